//! Facet counts of a listing: how many products of the current result (every page of it,
//! not only the one shown) have each brand, wheels, feature and colour, and how many fall
//! within each weight and capacity bound. Plain counts of the result: adding a value of
//! one facet to the filter gives exactly that value's count.

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::ToSchema;

use super::{Feature, Wheels};

/// Bounds offered for `max_weight_g`, lightest first.
pub const WEIGHT_BOUNDS_G: [i32; 5] = [2000, 2500, 3000, 4000, 5000];
/// Bounds offered for `min_capacity_l`, smallest first.
pub const CAPACITY_BOUNDS_L: [i32; 6] = [20, 30, 40, 60, 80, 100];

/// What the facets need of one product of the result.
#[derive(Debug, Clone)]
pub struct FacetProduct {
    pub brand: String,
    pub wheels: Option<Wheels>,
    pub features: Vec<Feature>,
    pub weight_g: i32,
    pub capacity_l: i32,
}

/// A brand or colour and how many products of the result have it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(example = json!({"value": "Valise", "count": 12}))]
pub struct ValueCount {
    /// The value as products (brands) or variants (colours) spell it; pass it as the filter.
    #[schema(example = "Valise")]
    pub value: String,
    /// Products of the result it counts.
    #[schema(minimum = 1, example = 12)]
    pub count: u64,
}

/// A kind of wheels and how many products of the result have it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(example = json!({"value": "spinner", "count": 9}))]
pub struct WheelsCount {
    /// The kind of wheels: pass it as `wheels`.
    pub value: Wheels,
    /// Products of the result it counts.
    #[schema(minimum = 1, example = 9)]
    pub count: u64,
}

/// A feature and how many products of the result have it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(example = json!({"value": "tsa_lock", "count": 7}))]
pub struct FeatureCount {
    /// The feature: pass it as `feature`.
    pub value: Feature,
    /// Products of the result it counts.
    #[schema(minimum = 1, example = 7)]
    pub count: u64,
}

/// How many products of the result weigh at most `max_weight_g`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(example = json!({"max_weight_g": 3000, "count": 5}))]
pub struct WeightCount {
    /// The bound, in grams: pass it as `max_weight_g`.
    #[schema(example = 3000)]
    pub max_weight_g: i32,
    /// Products of the result it counts.
    #[schema(minimum = 0, example = 5)]
    pub count: u64,
}

/// How many products of the result hold at least `min_capacity_l`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(example = json!({"min_capacity_l": 40, "count": 8}))]
pub struct CapacityCount {
    /// The bound, in litres: pass it as `min_capacity_l`.
    #[schema(example = 40)]
    pub min_capacity_l: i32,
    /// Products of the result it counts.
    #[schema(minimum = 0, example = 8)]
    pub count: u64,
}

/// Counts over every product the filter finds (all pages).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(example = json!(facets_example()))]
pub struct Facets {
    /// Products the filter finds, over all pages.
    #[schema(minimum = 0, example = 12)]
    pub total: u64,
    /// Brands present, most frequent first (ties by name).
    pub brand: Vec<ValueCount>,
    /// Kinds of wheels present, most frequent first (ties in vocabulary order).
    pub wheels: Vec<WheelsCount>,
    /// Features present, most frequent first (ties in vocabulary order).
    pub feature: Vec<FeatureCount>,
    /// Colours of active variants present, most frequent first (ties by name); a product
    /// counts once per colour.
    pub colour: Vec<ValueCount>,
    /// Cumulative: products at or under each offered `max_weight_g`, lightest first.
    pub weight: Vec<WeightCount>,
    /// Cumulative: products at or over each offered `min_capacity_l`, smallest first.
    pub capacity: Vec<CapacityCount>,
}

impl Facets {
    /// Counts `products` and the distinct (product, colour) pairs of their active variants.
    pub fn count<'a>(
        products: &[FacetProduct],
        colours: impl IntoIterator<Item = &'a str>,
    ) -> Facets {
        let mut brands: BTreeMap<&str, u64> = BTreeMap::new();
        let mut wheels = vec![0u64; Wheels::ALL.len()];
        let mut features = vec![0u64; Feature::ALL.len()];
        for p in products {
            *brands.entry(p.brand.as_str()).or_default() += 1;
            if let Some(i) = p
                .wheels
                .and_then(|w| Wheels::ALL.iter().position(|x| *x == w))
            {
                wheels[i] += 1;
            }
            for f in &p.features {
                if let Some(i) = Feature::ALL.iter().position(|x| x == f) {
                    features[i] += 1;
                }
            }
        }
        let mut colour_counts: BTreeMap<&str, u64> = BTreeMap::new();
        for c in colours {
            *colour_counts.entry(c).or_default() += 1;
        }
        Facets {
            total: products.len() as u64,
            brand: by_count(brands),
            wheels: in_vocabulary_order(Wheels::ALL, &wheels)
                .map(|(value, count)| WheelsCount { value, count })
                .collect(),
            feature: in_vocabulary_order(Feature::ALL, &features)
                .map(|(value, count)| FeatureCount { value, count })
                .collect(),
            colour: by_count(colour_counts),
            weight: WEIGHT_BOUNDS_G
                .iter()
                .map(|&max| WeightCount {
                    max_weight_g: max,
                    count: products.iter().filter(|p| p.weight_g <= max).count() as u64,
                })
                .collect(),
            capacity: CAPACITY_BOUNDS_L
                .iter()
                .map(|&min| CapacityCount {
                    min_capacity_l: min,
                    count: products.iter().filter(|p| p.capacity_l >= min).count() as u64,
                })
                .collect(),
        }
    }
}

/// Non-zero counts, most frequent first; the sort is stable, so ties keep vocabulary order.
fn in_vocabulary_order<T: Copy>(all: &[T], counts: &[u64]) -> impl Iterator<Item = (T, u64)> {
    let mut pairs: Vec<(T, u64)> = all
        .iter()
        .copied()
        .zip(counts.iter().copied())
        .filter(|(_, n)| *n > 0)
        .collect();
    pairs.sort_by_key(|p| std::cmp::Reverse(p.1));
    pairs.into_iter()
}

/// Most frequent first; the map is sorted by name, so ties stay by name.
fn by_count(counts: BTreeMap<&str, u64>) -> Vec<ValueCount> {
    let mut out: Vec<ValueCount> = counts
        .into_iter()
        .map(|(value, count)| ValueCount {
            value: value.to_owned(),
            count,
        })
        .collect();
    out.sort_by_key(|c| std::cmp::Reverse(c.count));
    out
}

/// The facets of the document's example.
pub fn facets_example() -> serde_json::Value {
    serde_json::json!({
        "total": 12,
        "brand": [{"value": "Valise", "count": 9}, {"value": "Nordkap", "count": 3}],
        "wheels": [{"value": "spinner", "count": 9}, {"value": "two", "count": 3}],
        "feature": [{"value": "tsa_lock", "count": 7}, {"value": "expandable", "count": 4}],
        "colour": [{"value": "black", "count": 10}, {"value": "sage", "count": 2}],
        "weight": [{"max_weight_g": 2000, "count": 0}, {"max_weight_g": 2500, "count": 3},
                   {"max_weight_g": 3000, "count": 8}, {"max_weight_g": 4000, "count": 12},
                   {"max_weight_g": 5000, "count": 12}],
        "capacity": [{"min_capacity_l": 20, "count": 12}, {"min_capacity_l": 30, "count": 12},
                     {"min_capacity_l": 40, "count": 5}, {"min_capacity_l": 60, "count": 0},
                     {"min_capacity_l": 80, "count": 0}, {"min_capacity_l": 100, "count": 0}]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn product(brand: &str, wheels: Wheels, features: &[Feature], g: i32, l: i32) -> FacetProduct {
        FacetProduct {
            brand: brand.into(),
            wheels: Some(wheels),
            features: features.to_vec(),
            weight_g: g,
            capacity_l: l,
        }
    }

    #[test]
    fn counts_each_value_and_cumulative_bounds() {
        let products = [
            product("B", Wheels::Spinner, &[Feature::TsaLock], 2500, 40),
            product(
                "A",
                Wheels::Spinner,
                &[Feature::TsaLock, Feature::UsbPort],
                3100,
                90,
            ),
            product("A", Wheels::Two, &[], 1900, 20),
        ];
        let f = Facets::count(&products, ["black", "black", "sage"]);
        assert_eq!(f.total, 3);
        let brands: Vec<_> = f
            .brand
            .iter()
            .map(|b| (b.value.as_str(), b.count))
            .collect();
        assert_eq!(brands, [("A", 2), ("B", 1)]);
        assert_eq!(
            f.wheels,
            [
                WheelsCount {
                    value: Wheels::Spinner,
                    count: 2
                },
                WheelsCount {
                    value: Wheels::Two,
                    count: 1
                }
            ]
        );
        assert_eq!(
            f.feature,
            [
                FeatureCount {
                    value: Feature::TsaLock,
                    count: 2
                },
                FeatureCount {
                    value: Feature::UsbPort,
                    count: 1
                }
            ]
        );
        let colours: Vec<_> = f
            .colour
            .iter()
            .map(|c| (c.value.as_str(), c.count))
            .collect();
        assert_eq!(colours, [("black", 2), ("sage", 1)]);
        let weights: Vec<_> = f.weight.iter().map(|w| w.count).collect();
        assert_eq!(weights, [1, 2, 2, 3, 3]);
        let capacities: Vec<_> = f.capacity.iter().map(|c| c.count).collect();
        assert_eq!(capacities, [3, 2, 2, 1, 1, 0]);
    }

    #[test]
    fn no_feature_name_holds_another_so_the_listing_may_match_substrings() {
        for a in Feature::ALL {
            for b in Feature::ALL {
                if a != b {
                    assert!(!a.as_str().contains(b.as_str()), "{a:?} holds {b:?}");
                }
            }
        }
    }
}
