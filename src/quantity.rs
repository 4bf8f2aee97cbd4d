//! Kubernetes resource quantities (`250m`, `1.5`, `512Mi`), parsed so that dovetail can
//! refuse zero sizes and derive figures such as Redis' `maxmemory` from the operator's
//! memory. The grammar is a small subset of Kubernetes' own (no exponents, no negative
//! values), written here because the crates that parse quantities pull in all of
//! k8s-openapi.

/// A non-negative quantity in thousandths of its base unit (millicores, millibytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Quantity(u128);

impl Quantity {
    /// Parses `text`; `None` when it is not a quantity this platform accepts.
    pub fn parse(text: &str) -> Option<Quantity> {
        let split = text
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(text.len());
        let (number, suffix) = text.split_at(split);
        let multiplier: u128 = match suffix {
            "" => 1_000,
            "m" => 1,
            "k" => 1_000_000,
            "M" => 1_000_000_000,
            "G" => 1_000_000_000_000,
            "T" => 1_000_000_000_000_000,
            "P" => 1_000_000_000_000_000_000,
            "E" => 1_000_000_000_000_000_000_000,
            "Ki" => 1_000 << 10,
            "Mi" => 1_000 << 20,
            "Gi" => 1_000 << 30,
            "Ti" => 1_000 << 40,
            "Pi" => 1_000 << 50,
            "Ei" => 1_000 << 60,
            _ => return None,
        };
        let (int, frac) = number.split_once('.').unwrap_or((number, ""));
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if int.is_empty() || !digits(int) || !digits(frac) || frac.len() > 9 || int.len() > 12 {
            return None;
        }
        if number.ends_with('.') {
            return None;
        }
        let int: u128 = int.parse().ok()?;
        let scale = 10u128.pow(u32::try_from(frac.len()).ok()?);
        let frac: u128 = if frac.is_empty() {
            0
        } else {
            frac.parse().ok()?
        };
        Some(Quantity(int * multiplier + frac * multiplier / scale))
    }

    /// Whether the quantity is zero.
    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// The value in whole base units (bytes, cores), rounded down.
    pub fn whole(self) -> u128 {
        self.0 / 1_000
    }

    /// The value in thousandths of the base unit (millicores).
    pub fn milli(self) -> u128 {
        self.0
    }

    /// The sum; saturates instead of wrapping.
    #[must_use]
    pub fn plus(self, other: Quantity) -> Quantity {
        Quantity(self.0.saturating_add(other.0))
    }

    /// `n` times the quantity; saturates instead of wrapping.
    #[must_use]
    pub fn times(self, n: u32) -> Quantity {
        Quantity(self.0.saturating_mul(u128::from(n)))
    }

    /// As a CPU quantity: whole cores when it is a whole number, else millicores.
    pub fn cpu_text(self) -> String {
        if self.0.is_multiple_of(1_000) {
            (self.0 / 1_000).to_string()
        } else {
            format!("{}m", self.0)
        }
    }

    /// As a byte quantity: `Gi` or `Mi` when it divides evenly, else bytes (rounded up,
    /// so a quota never comes out smaller than the sum it stands for).
    pub fn bytes_text(self) -> String {
        let bytes = self.0.div_ceil(1_000);
        if bytes != 0 && bytes.is_multiple_of(1 << 30) {
            format!("{}Gi", bytes >> 30)
        } else if bytes != 0 && bytes.is_multiple_of(1 << 20) {
            format!("{}Mi", bytes >> 20)
        } else {
            bytes.to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cpu_and_memory_forms() {
        assert_eq!(Quantity::parse("250m").unwrap().milli(), 250);
        assert_eq!(Quantity::parse("1").unwrap().milli(), 1000);
        assert_eq!(Quantity::parse("0.5").unwrap().milli(), 500);
        assert_eq!(Quantity::parse("512Mi").unwrap().whole(), 512 << 20);
        assert_eq!(Quantity::parse("1.5Gi").unwrap().whole(), 3 << 29);
        assert_eq!(Quantity::parse("2G").unwrap().whole(), 2_000_000_000);
        assert!(Quantity::parse("0").unwrap().is_zero());
    }

    #[test]
    fn sums_print_back_as_quantities() {
        let q = |s| Quantity::parse(s).unwrap();
        assert_eq!(q("250m").plus(q("750m")).cpu_text(), "1");
        assert_eq!(q("250m").times(3).cpu_text(), "750m");
        assert_eq!(q("512Mi").times(2).bytes_text(), "1Gi");
        assert_eq!(q("512Mi").plus(q("256Mi")).bytes_text(), "768Mi");
        assert_eq!(q("1G").bytes_text(), "1000000000");
    }

    #[test]
    fn refuses_negative_and_malformed() {
        for bad in [
            "-1", "", "1.", ".5", "1Xi", "1e3", "Mi", "1.2.3", "+1", "1 Gi",
        ] {
            assert_eq!(Quantity::parse(bad), None, "{bad}");
        }
    }
}
