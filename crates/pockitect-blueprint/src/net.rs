//! CIDR parsing for VPC ranges and firewall rules (std only).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A parsed CIDR block whose host bits are zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cidr {
    pub addr: IpAddr,
    pub prefix: u8,
}

/// Why a string is not a usable CIDR block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CidrError {
    /// Not an address followed by `/prefix`.
    Syntax,
    /// A bare address: suggest the single-host block.
    MissingPrefix { suggestion: String },
    /// The prefix is longer than the address family allows.
    PrefixTooLong { max: u8 },
    /// Host bits are set: suggest the network block.
    HostBitsSet { suggestion: String },
}

impl fmt::Display for CidrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CidrError::Syntax => f.write_str(
                "is not a CIDR block; write an address and a prefix length such as '10.0.0.0/16' \
                 or '2001:db8::/32'",
            ),
            CidrError::MissingPrefix { suggestion } => {
                write!(
                    f,
                    "has no prefix length; for this single address use '{suggestion}'"
                )
            }
            CidrError::PrefixTooLong { max } => {
                write!(f, "has a prefix length above {max}")
            }
            CidrError::HostBitsSet { suggestion } => {
                write!(f, "has host bits set; the network block is '{suggestion}'")
            }
        }
    }
}

impl Cidr {
    pub fn parse(s: &str) -> Result<Cidr, CidrError> {
        let s = s.trim();
        let Some((addr, prefix)) = s.split_once('/') else {
            return match s.parse::<IpAddr>() {
                Ok(IpAddr::V4(_)) => Err(CidrError::MissingPrefix {
                    suggestion: format!("{s}/32"),
                }),
                Ok(IpAddr::V6(_)) => Err(CidrError::MissingPrefix {
                    suggestion: format!("{s}/128"),
                }),
                Err(_) => Err(CidrError::Syntax),
            };
        };
        let addr: IpAddr = addr.parse().map_err(|_| CidrError::Syntax)?;
        if prefix.is_empty() || prefix.len() > 3 || !prefix.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CidrError::Syntax);
        }
        let prefix: u8 = prefix.parse().map_err(|_| CidrError::Syntax)?;
        match addr {
            IpAddr::V4(a) => {
                if prefix > 32 {
                    return Err(CidrError::PrefixTooLong { max: 32 });
                }
                let bits = u32::from(a);
                let net = bits & mask_v4(prefix);
                if net != bits {
                    return Err(CidrError::HostBitsSet {
                        suggestion: format!("{}/{prefix}", Ipv4Addr::from(net)),
                    });
                }
            }
            IpAddr::V6(a) => {
                if prefix > 128 {
                    return Err(CidrError::PrefixTooLong { max: 128 });
                }
                let bits = u128::from(a);
                let net = bits & mask_v6(prefix);
                if net != bits {
                    return Err(CidrError::HostBitsSet {
                        suggestion: format!("{}/{prefix}", Ipv6Addr::from(net)),
                    });
                }
            }
        }
        Ok(Cidr { addr, prefix })
    }

    pub fn is_v4(&self) -> bool {
        self.addr.is_ipv4()
    }

    /// `0.0.0.0/0` or `::/0`.
    pub fn is_world(&self) -> bool {
        self.prefix == 0
    }

    /// True when `other` lies entirely inside `self` (same family).
    pub fn contains(&self, other: &Cidr) -> bool {
        if other.prefix < self.prefix {
            return false;
        }
        match (self.addr, other.addr) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                u32::from(b) & mask_v4(self.prefix) == u32::from(a) & mask_v4(self.prefix)
            }
            (IpAddr::V6(a), IpAddr::V6(b)) => {
                u128::from(b) & mask_v6(self.prefix) == u128::from(a) & mask_v6(self.prefix)
            }
            _ => false,
        }
    }

    /// Inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16 (RFC 1918).
    pub fn is_rfc1918(&self) -> bool {
        ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]
            .iter()
            .filter_map(|c| Cidr::parse(c).ok())
            .any(|net| net.contains(self))
    }

    /// Overlaps a range AWS never allows for a VPC (this host, loopback, link-local, multicast
    /// and reserved space).
    pub fn overlaps_forbidden_vpc_range(&self) -> Option<&'static str> {
        const FORBIDDEN: [(&str, &str); 5] = [
            ("0.0.0.0/8", "'this network' range 0.0.0.0/8"),
            ("127.0.0.0/8", "loopback range 127.0.0.0/8"),
            ("169.254.0.0/16", "link-local range 169.254.0.0/16"),
            ("224.0.0.0/4", "multicast range 224.0.0.0/4"),
            ("240.0.0.0/4", "reserved range 240.0.0.0/4"),
        ];
        FORBIDDEN.iter().find_map(|(net, label)| {
            let net = Cidr::parse(net).ok()?;
            (net.contains(self) || self.contains(&net)).then_some(*label)
        })
    }
}

fn mask_v4(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix.min(32)))
    }
}

fn mask_v6(prefix: u8) -> u128 {
    if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(prefix.min(128)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_v4_and_v6() {
        let c = Cidr::parse("10.0.0.0/16").unwrap();
        assert!(c.is_v4());
        assert_eq!(c.prefix, 16);
        assert!(Cidr::parse("0.0.0.0/0").unwrap().is_world());
        assert!(Cidr::parse("::/0").unwrap().is_world());
        assert!(!Cidr::parse("2001:db8::/32").unwrap().is_v4());
        assert!(Cidr::parse("1.2.3.4/32").is_ok());
    }

    #[test]
    fn rejects_bad_blocks_with_suggestions() {
        assert_eq!(Cidr::parse("banana"), Err(CidrError::Syntax));
        assert_eq!(Cidr::parse("10.0.0.0/"), Err(CidrError::Syntax));
        assert_eq!(Cidr::parse("10.0.0.0/+8"), Err(CidrError::Syntax));
        assert_eq!(Cidr::parse("10.0.0/8"), Err(CidrError::Syntax));
        assert_eq!(
            Cidr::parse("10.0.0.0/33"),
            Err(CidrError::PrefixTooLong { max: 32 })
        );
        assert_eq!(
            Cidr::parse("::/129"),
            Err(CidrError::PrefixTooLong { max: 128 })
        );
        assert_eq!(
            Cidr::parse("1.2.3.4"),
            Err(CidrError::MissingPrefix {
                suggestion: "1.2.3.4/32".into()
            })
        );
        assert_eq!(
            Cidr::parse("10.1.2.3/16"),
            Err(CidrError::HostBitsSet {
                suggestion: "10.1.0.0/16".into()
            })
        );
        assert_eq!(
            Cidr::parse("2001:db8::1/64"),
            Err(CidrError::HostBitsSet {
                suggestion: "2001:db8::/64".into()
            })
        );
    }

    #[test]
    fn containment_and_ranges() {
        let vpc = Cidr::parse("10.0.0.0/16").unwrap();
        assert!(vpc.contains(&Cidr::parse("10.0.1.0/24").unwrap()));
        assert!(!vpc.contains(&Cidr::parse("10.1.0.0/24").unwrap()));
        assert!(!vpc.contains(&Cidr::parse("10.0.0.0/8").unwrap()));
        assert!(!vpc.contains(&Cidr::parse("::/0").unwrap()));
        assert!(vpc.is_rfc1918());
        assert!(!Cidr::parse("100.64.0.0/16").unwrap().is_rfc1918());
        assert!(
            Cidr::parse("127.0.0.0/16")
                .unwrap()
                .overlaps_forbidden_vpc_range()
                .is_some()
        );
        assert!(vpc.overlaps_forbidden_vpc_range().is_none());
    }
}
