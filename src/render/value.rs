//! `value!`: JSON literals for rendered objects that move what they are given.
//!
//! `serde_json::json!` serializes each interpolated expression through a reference, so
//! every `Value` put into a literal (labels into metadata, metadata and spec into an
//! object) is copied node by node, and the copy is dropped with the original: a third of
//! a render's allocations. `value!` takes the same literals but moves each expression in
//! through [`IntoValue`]; a borrowed string is copied explicitly (`&r.image`).

use std::collections::BTreeMap;

use serde_json::{Number, Value};

/// A value that becomes a JSON value, moved rather than copied where it owns one.
pub trait IntoValue {
    /// The JSON value.
    fn into_value(self) -> Value;
}

impl IntoValue for Value {
    fn into_value(self) -> Value {
        self
    }
}

impl<T: IntoValue> IntoValue for Vec<T> {
    fn into_value(self) -> Value {
        // For a `Vec<Value>` the collect reuses the vector's allocation.
        Value::Array(self.into_iter().map(IntoValue::into_value).collect())
    }
}

impl<T> IntoValue for &BTreeMap<String, T>
where
    for<'a> &'a T: IntoValue,
{
    fn into_value(self) -> Value {
        Value::Object(
            self.iter()
                .map(|(k, v)| (k.clone(), v.into_value()))
                .collect(),
        )
    }
}

/// A copy, node by node: where a literal borrows a value that is used again.
impl IntoValue for &Value {
    fn into_value(self) -> Value {
        self.clone()
    }
}

impl IntoValue for String {
    fn into_value(self) -> Value {
        Value::String(self)
    }
}

impl IntoValue for &str {
    fn into_value(self) -> Value {
        Value::String(self.to_owned())
    }
}

impl IntoValue for &String {
    fn into_value(self) -> Value {
        Value::String(self.clone())
    }
}

impl IntoValue for bool {
    fn into_value(self) -> Value {
        Value::Bool(self)
    }
}

impl<T: IntoValue> IntoValue for Option<T> {
    fn into_value(self) -> Value {
        self.map_or(Value::Null, IntoValue::into_value)
    }
}

impl<T> IntoValue for &Option<T>
where
    for<'a> &'a T: IntoValue,
{
    fn into_value(self) -> Value {
        self.as_ref().map_or(Value::Null, IntoValue::into_value)
    }
}

impl<T> IntoValue for &[T]
where
    for<'a> &'a T: IntoValue,
{
    fn into_value(self) -> Value {
        Value::Array(self.iter().map(IntoValue::into_value).collect())
    }
}

impl<T> IntoValue for &Vec<T>
where
    for<'a> &'a T: IntoValue,
{
    fn into_value(self) -> Value {
        self.as_slice().into_value()
    }
}

macro_rules! integers {
    ($($t:ty),*) => {$(
        impl IntoValue for $t {
            fn into_value(self) -> Value {
                Value::Number(Number::from(self))
            }
        }

        impl IntoValue for &$t {
            fn into_value(self) -> Value {
                Value::Number(Number::from(*self))
            }
        }
    )*};
}
integers!(u16, u32, u64, usize, i32, i64);

/// A JSON value written like `serde_json::json!`: objects with string-literal or
/// constant keys, arrays, `null`, and any expression that is [`IntoValue`], moved in.
/// Arrays and maps are allocated at their final size.
macro_rules! value {
    (null) => { ::serde_json::Value::Null };
    ([ $($items:tt)* ]) => {
        ::serde_json::Value::Array($crate::render::value::value!(@array [] $($items)*))
    };
    ({ $($members:tt)* }) => {
        ::serde_json::Value::Object($crate::render::value::value!(@object [] $($members)*))
    };
    ($e:expr) => { $crate::render::value::IntoValue::into_value($e) };

    // Items are converted one by one into `$done`, then collected into one `vec!`.
    (@array [$($done:expr,)*]) => { ::std::vec![$($done),*] };
    (@array [$($done:expr,)*] null $(, $($rest:tt)*)?) => {
        $crate::render::value::value!(@array [$($done,)* ::serde_json::Value::Null,] $($($rest)*)?)
    };
    (@array [$($done:expr,)*] [ $($x:tt)* ] $(, $($rest:tt)*)?) => {
        $crate::render::value::value!(
            @array [$($done,)* $crate::render::value::value!([ $($x)* ]),] $($($rest)*)?
        )
    };
    (@array [$($done:expr,)*] { $($x:tt)* } $(, $($rest:tt)*)?) => {
        $crate::render::value::value!(
            @array [$($done,)* $crate::render::value::value!({ $($x)* }),] $($($rest)*)?
        )
    };
    (@array [$($done:expr,)*] $x:expr $(, $($rest:tt)*)?) => {
        $crate::render::value::value!(
            @array [$($done,)* $crate::render::value::IntoValue::into_value($x),] $($($rest)*)?
        )
    };

    // Members likewise, as (key, value) pairs; a map built from an array of pairs is
    // allocated once, and a repeated key keeps its first place and its last value.
    (@object [$(($k:expr, $v:expr),)*]) => {
        <::serde_json::Map<::std::string::String, ::serde_json::Value> as ::std::iter::FromIterator<_>>::from_iter(
            [$((::std::string::String::from($k), $v)),*]
        )
    };
    (@object [$($done:tt)*] $key:literal : $($rest:tt)*) => {
        $crate::render::value::value!(@member [$($done)*] ($key) $($rest)*)
    };
    (@object [$($done:tt)*] $key:ident : $($rest:tt)*) => {
        $crate::render::value::value!(@member [$($done)*] ($key) $($rest)*)
    };
    (@member [$($done:tt)*] ($key:expr) null $(, $($rest:tt)*)?) => {
        $crate::render::value::value!(
            @object [$($done)* ($key, ::serde_json::Value::Null),] $($($rest)*)?
        )
    };
    (@member [$($done:tt)*] ($key:expr) [ $($x:tt)* ] $(, $($rest:tt)*)?) => {
        $crate::render::value::value!(
            @object [$($done)* ($key, $crate::render::value::value!([ $($x)* ])),] $($($rest)*)?
        )
    };
    (@member [$($done:tt)*] ($key:expr) { $($x:tt)* } $(, $($rest:tt)*)?) => {
        $crate::render::value::value!(
            @object [$($done)* ($key, $crate::render::value::value!({ $($x)* })),] $($($rest)*)?
        )
    };
    (@member [$($done:tt)*] ($key:expr) $x:expr $(, $($rest:tt)*)?) => {
        $crate::render::value::value!(
            @object [$($done)* ($key, $crate::render::value::IntoValue::into_value($x)),] $($($rest)*)?
        )
    };
}
pub(crate) use value;

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn literals_read_as_json_does() {
        const KEY: &str = "k/annotation";
        let name = String::from("web");
        let labels = json!({"a": "b"});
        let args = vec![String::from("-c"), String::from("x")];
        let built = value!({
            "name": &name,
            "labels": labels.clone(),
            KEY: "1",
            "n": 8000_u16,
            "on": true,
            "none": null,
            "args": &args,
            "ports": [{"port": 1_u32, "protocol": "TCP"}, null, [], {}],
            "maybe": None::<String>,
        });
        assert_eq!(
            built,
            json!({
                "name": name,
                "labels": labels,
                KEY: "1",
                "n": 8000,
                "on": true,
                "none": null,
                "args": args,
                "ports": [{"port": 1, "protocol": "TCP"}, null, [], {}],
                "maybe": null,
            })
        );
        // Key order is output order: the literal's.
        let keys: Vec<&String> = built.as_object().unwrap().keys().collect();
        assert_eq!(keys[..3], ["name", "labels", KEY]);
    }

    #[test]
    fn values_are_moved_in_not_copied() {
        let name = "a-name-long-enough-to-be-on-the-heap".to_owned();
        let name_at = name.as_ptr();
        let labels = json!({"app": "a-label-long-enough-to-be-on-the-heap"});
        let label_at = labels["app"].as_str().unwrap().as_ptr();
        let built = value!({"name": name, "metadata": {"labels": labels}});
        assert_eq!(built["name"].as_str().unwrap().as_ptr(), name_at);
        assert_eq!(
            built["metadata"]["labels"]["app"]
                .as_str()
                .unwrap()
                .as_ptr(),
            label_at
        );
    }

    #[test]
    fn a_moved_value_is_the_same_value() {
        let metadata = json!({"labels": {"x": "y"}});
        assert_eq!(
            value!({"metadata": metadata})["metadata"]["labels"]["x"],
            "y"
        );
        assert_eq!(value!([]), json!([]));
        assert_eq!(value!({}), json!({}));
    }
}
