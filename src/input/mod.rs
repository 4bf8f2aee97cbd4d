//! Input: both repos read, parsed and typed. Files come from a [`tree`] (a directory, a
//! commit of the git cache, or memory) under the rules that keep a repo from reading anything
//! else; [`yaml`] parses them into trees that remember `file:line:column`; [`schema`] and
//! [`ownership`] check them; [`model`] types them; [`doc`] runs those steps for one file.

pub mod app;
pub mod doc;
pub mod formats;
pub mod model;
pub mod operator;
pub mod ownership;
pub mod schema;
pub mod secrets_file;
pub mod tree;
pub mod yaml;
