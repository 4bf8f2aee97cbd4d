//! IP blocks (`10.0.0.0/8`, `::/0`) for NetworkPolicy egress rules: parsing, containment,
//! and the exceptions every rule gets whatever the operator wrote, so that no app can
//! reach the cloud metadata service or (where the operator lists them) the cluster's own
//! pod and service ranges.
//!
//! Two CIDR blocks are always either nested or disjoint, which is what makes "except the
//! blocks inside this one" a complete answer: a forced exception either lies inside a
//! rule (and is added to its `except`) or the rule lies inside it (and the rule is
//! refused), or they do not meet.

use std::fmt;
use std::net::IpAddr;

/// An IP block: an address and a prefix length, the address's host bits zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parses `a.b.c.d/n` or `x:y::z/n` as Kubernetes' `ipBlock` takes it: the address
    /// must be the block's first (no host bits set), as `netip.ParsePrefix` and the
    /// API server's validation require, and not IPv4-mapped IPv6 (`::ffff:a.b.c.d`),
    /// which the API server refuses.
    pub fn parse(s: &str) -> Option<Cidr> {
        let (addr, prefix) = s.split_once('/')?;
        if prefix.is_empty() || prefix.len() > 3 || !prefix.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let addr: IpAddr = addr.parse().ok()?;
        if let IpAddr::V6(v6) = addr
            && v6.to_ipv4_mapped().is_some()
        {
            return None;
        }
        let prefix: u8 = prefix.parse().ok()?;
        let bits = match addr {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        };
        if prefix > bits {
            return None;
        }
        let c = Cidr { addr, prefix };
        (c.network_bits() == c.addr_bits()).then_some(c)
    }

    fn addr_bits(&self) -> u128 {
        match self.addr {
            IpAddr::V4(a) => u128::from(u32::from(a)),
            IpAddr::V6(a) => u128::from(a),
        }
    }

    fn width(&self) -> u8 {
        match self.addr {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        }
    }

    fn mask(&self) -> u128 {
        let host = u32::from(self.width() - self.prefix);
        let all = if self.width() == 32 {
            u128::from(u32::MAX)
        } else {
            u128::MAX
        };
        if host >= 128 {
            0
        } else {
            all & !((1u128 << host) - 1)
        }
    }

    fn network_bits(&self) -> u128 {
        self.addr_bits() & self.mask()
    }

    /// Whether `other` lies inside this block (a block contains itself).
    pub fn contains(&self, other: &Cidr) -> bool {
        self.width() == other.width()
            && other.prefix >= self.prefix
            && other.addr_bits() & self.mask() == self.network_bits()
    }

    /// Whether this is an IPv4 block.
    pub fn is_v4(&self) -> bool {
        self.addr.is_ipv4()
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// Where cloud providers serve instance metadata (and the credentials of the node):
/// AWS, GCP, Azure, OpenStack and most others on 169.254.169.254 (the whole link-local
/// block goes with it), AWS's IPv6 endpoint on `fd00:ec2::254`, Alibaba Cloud on
/// 100.100.100.200. (Their IPv4-mapped IPv6 spellings need no exception: the API
/// server refuses every IPv4-mapped block, and so does [`Cidr::parse`].)
pub const METADATA: &[&str] = &["100.100.100.200/32", "169.254.0.0/16", "fd00:ec2::254/128"];

/// Private, shared and link-local ranges: where other tenants' pods, the nodes and the
/// cloud's internal services live. The default egress rule, "the internet", leaves them
/// out.
pub const PRIVATE: &[&str] = &[
    "10.0.0.0/8",
    "100.64.0.0/10",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "fc00::/7",
    "fe80::/10",
];

/// Why a rule cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleError {
    /// The rule lies inside a block no app may reach.
    Forbidden {
        /// The block it lies in.
        inside: String,
    },
    /// An `except` entry is not strictly inside the rule's block.
    ExceptOutside(String),
}

/// The `except` list of an egress rule for `cidr`: the operator's own exceptions, then
/// every `forced` block strictly inside `cidr`, deduplicated and in a stable order. A
/// rule that lies inside a forced block is refused.
pub fn exceptions(cidr: &Cidr, given: &[Cidr], forced: &[Cidr]) -> Result<Vec<Cidr>, RuleError> {
    if let Some(f) = forced.iter().find(|f| f.contains(cidr)) {
        return Err(RuleError::Forbidden {
            inside: f.to_string(),
        });
    }
    let mut out = Vec::new();
    for e in given {
        if !cidr.contains(e) || e == cidr {
            return Err(RuleError::ExceptOutside(e.to_string()));
        }
        out.push(*e);
    }
    for f in forced {
        if cidr.contains(f) && !out.iter().any(|e| e.contains(f)) {
            out.push(*f);
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> Cidr {
        Cidr::parse(s).unwrap()
    }

    #[test]
    fn parses_what_the_api_server_accepts() {
        for ok in [
            "0.0.0.0/0",
            "10.0.0.0/8",
            "169.254.169.254/32",
            "::/0",
            "fd00:ec2::254/128",
        ] {
            assert_eq!(c(ok).to_string(), ok);
        }
        for bad in [
            "10.0.0.1/8",
            "10.0.0.0",
            "10.0.0.0/33",
            "::/129",
            "x/8",
            "10.0.0.0/-1",
            "10.0.0.0/08x",
        ] {
            assert!(Cidr::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn containment_is_by_prefix_and_family() {
        assert!(c("0.0.0.0/0").contains(&c("169.254.169.254/32")));
        assert!(c("10.0.0.0/8").contains(&c("10.244.0.0/16")));
        assert!(!c("10.244.0.0/16").contains(&c("10.0.0.0/8")));
        assert!(!c("0.0.0.0/0").contains(&c("::/0")));
        assert!(c("::/0").contains(&c("fd00:ec2::254/128")));
    }

    #[test]
    fn forced_blocks_are_excepted_or_the_rule_refused() {
        let forced: Vec<Cidr> = METADATA.iter().map(|s| c(s)).collect();
        let e = exceptions(&c("0.0.0.0/0"), &[c("10.0.0.0/8")], &forced).unwrap();
        assert_eq!(
            e,
            vec![
                c("10.0.0.0/8"),
                c("100.100.100.200/32"),
                c("169.254.0.0/16")
            ]
        );
        // The IPv4-mapped spelling of the metadata address is no block at all: the API
        // server refuses it (regression: it was accepted, and the server refused the
        // render).
        assert!(Cidr::parse("::ffff:169.254.169.254/128").is_none());
        assert!(Cidr::parse("::ffff:0.0.0.0/96").is_none());
        assert_eq!(
            exceptions(&c("169.254.169.254/32"), &[], &forced),
            Err(RuleError::Forbidden {
                inside: "169.254.0.0/16".into()
            })
        );
        assert_eq!(
            exceptions(&c("203.0.113.0/24"), &[c("10.0.0.0/8")], &forced),
            Err(RuleError::ExceptOutside("10.0.0.0/8".into()))
        );
        assert_eq!(
            exceptions(&c("203.0.113.0/24"), &[], &forced).unwrap(),
            vec![]
        );
    }
}
