//! Outer dimensions, and the size class they put luggage in.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::SizeClass;
use crate::invalid::Invalid;

/// Outer dimensions in whole centimetres (1–200 each).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Dimensions {
    /// Outer height in whole centimetres, wheels and handles included (1–200).
    #[schema(minimum = 1, maximum = 200, example = 55)]
    pub height: i32,
    /// Outer width in whole centimetres (1–200).
    #[schema(minimum = 1, maximum = 200, example = 40)]
    pub width: i32,
    /// Outer depth in whole centimetres (1–200).
    #[schema(minimum = 1, maximum = 200, example = 20)]
    pub depth: i32,
}

impl Dimensions {
    pub fn validate(self, field: &str) -> Result<Self, Invalid> {
        for (name, v) in [
            ("height", self.height),
            ("width", self.width),
            ("depth", self.depth),
        ] {
            if !(1..=200).contains(&v) {
                return Err(Invalid::field(
                    format!("{field}.{name}"),
                    "must be 1 to 200 cm",
                ));
            }
        }
        Ok(self)
    }

    /// Longest side first: the shape independent of orientation.
    pub fn sorted(self) -> [i32; 3] {
        let mut d = [self.height, self.width, self.depth];
        d.sort_unstable_by(|a, b| b.cmp(a));
        d
    }

    /// Whether this fits inside `other` in some orientation.
    pub fn fits_in(self, other: Dimensions) -> bool {
        let (a, b) = (self.sorted(), other.sorted());
        a.iter().zip(b.iter()).all(|(x, y)| x <= y)
    }

    /// Parses `LxWxH` (centimetres, any order), as in `?fits=55x40x23`.
    pub fn parse_box(raw: &str) -> Option<Dimensions> {
        let parts: Vec<i32> = raw
            .split(['x', 'X', '×'])
            .map(|p| {
                p.trim()
                    .parse::<i32>()
                    .ok()
                    .filter(|n| (1..=500).contains(n))
            })
            .collect::<Option<Vec<_>>>()?;
        match parts[..] {
            [height, width, depth] => Some(Dimensions {
                height,
                width,
                depth,
            }),
            _ => None,
        }
    }
}

/// The box a class must fit in, for the two classes defined by airline limits.
pub const UNDERSEAT_BOX: Dimensions = Dimensions {
    height: 45,
    width: 36,
    depth: 20,
};
pub const CABIN_BOX: Dimensions = Dimensions {
    height: 55,
    width: 40,
    depth: 23,
};
/// Longest side limits of the checked classes.
pub const MEDIUM_MAX_CM: i32 = 69;
pub const LARGE_MAX_CM: i32 = 79;

impl SizeClass {
    /// The one rule, applied to the outer dimensions in any orientation:
    /// - `underseat`: fits 45×36×20 cm (the common free personal-item allowance);
    /// - `cabin`: fits 55×40×23 cm (the common carry-on limit);
    /// - `medium`: longest side ≤ 69 cm; `large`: ≤ 79 cm; `extra_large`: longer.
    pub fn classify(d: Dimensions) -> SizeClass {
        if d.fits_in(UNDERSEAT_BOX) {
            SizeClass::Underseat
        } else if d.fits_in(CABIN_BOX) {
            SizeClass::Cabin
        } else if d.sorted()[0] <= MEDIUM_MAX_CM {
            SizeClass::Medium
        } else if d.sorted()[0] <= LARGE_MAX_CM {
            SizeClass::Large
        } else {
            SizeClass::ExtraLarge
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(height: i32, width: i32, depth: i32) -> Dimensions {
        Dimensions {
            height,
            width,
            depth,
        }
    }

    #[test]
    fn size_classes_follow_the_documented_rule() {
        assert_eq!(SizeClass::classify(d(40, 30, 15)), SizeClass::Underseat);
        assert_eq!(SizeClass::classify(d(55, 40, 20)), SizeClass::Cabin);
        assert_eq!(
            SizeClass::classify(d(20, 55, 40)),
            SizeClass::Cabin,
            "any orientation"
        );
        assert_eq!(
            SizeClass::classify(d(55, 40, 25)),
            SizeClass::Medium,
            "too deep for cabin"
        );
        assert_eq!(SizeClass::classify(d(68, 45, 28)), SizeClass::Medium);
        assert_eq!(SizeClass::classify(d(77, 52, 31)), SizeClass::Large);
        assert_eq!(SizeClass::classify(d(81, 55, 33)), SizeClass::ExtraLarge);
    }

    #[test]
    fn fitting_works_in_every_orientation() {
        let bag = d(54, 38, 21);
        for b in [d(55, 40, 23), d(23, 55, 40), d(40, 23, 55)] {
            assert!(bag.fits_in(b));
        }
        assert!(!bag.fits_in(d(55, 40, 20)));
        assert_eq!(Dimensions::parse_box("55x40x23"), Some(d(55, 40, 23)));
        assert_eq!(Dimensions::parse_box("55x40"), None);
        assert_eq!(Dimensions::parse_box("55x0x23"), None);
    }
}
