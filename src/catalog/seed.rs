//! `valise seed --demo`: a believable luggage catalogue, generated deterministically.
//!
//! Every size class, style and material appears; prices follow size and material; each
//! product has three colours. Idempotent: products are keyed by slug, and existing slugs
//! are skipped, so running it twice adds nothing.

use super::model::{Dimensions, Feature, Material, SizeClass, Style, Wheels};
use super::store::{self, ProductRow, VariantRow, ACTIVE};
use crate::db::DbConnection;

pub const DEMO_PRODUCTS: usize = 240;
const BATCH: usize = 250;

const BRANDS: &[&str] = &[
    "Valise",
    "Nordpack",
    "Aerolite",
    "Terra Trek",
    "Citybound",
    "Junior Jet",
    "Maison Cuir",
    "Roamwell",
];
const SERIES: &[&str] = &[
    "Voyager", "Horizon", "Atlas", "Meridian", "Pioneer", "Compass", "Summit", "Drift", "Harbor",
    "Orbit", "Nomad", "Zephyr", "Tundra", "Coast", "Metro", "Pilot", "Breeze", "Canyon", "Aurora",
    "Vega",
];
const COLORS: &[&str] = &[
    "black", "navy", "graphite", "sage", "sand", "burgundy", "silver", "teal",
];

/// A small deterministic generator (xorshift), so a seed is reproducible.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn jitter(&mut self, base: i32, spread: i32) -> i32 {
        base - spread + self.below((2 * spread + 1) as usize) as i32
    }
}

fn size_profile(class: SizeClass, rng: &mut Rng) -> (Dimensions, i32, i64, &'static str) {
    // (dimensions, capacity in litres, base price in cents, label)
    match class {
        SizeClass::Underseat => (
            Dimensions {
                height: rng.jitter(40, 3),
                width: rng.jitter(30, 3),
                depth: rng.jitter(17, 2),
            },
            rng.jitter(22, 4),
            5900,
            "Underseat",
        ),
        SizeClass::Cabin => (
            Dimensions {
                height: rng.jitter(53, 2),
                width: rng.jitter(38, 2),
                depth: rng.jitter(20, 2),
            },
            rng.jitter(37, 4),
            10900,
            "Cabin",
        ),
        SizeClass::Medium => (
            Dimensions {
                height: rng.jitter(66, 2),
                width: rng.jitter(44, 2),
                depth: rng.jitter(27, 2),
            },
            rng.jitter(68, 6),
            14900,
            "Medium",
        ),
        SizeClass::Large => (
            Dimensions {
                height: rng.jitter(76, 2),
                width: rng.jitter(52, 2),
                depth: rng.jitter(30, 2),
            },
            rng.jitter(98, 8),
            17900,
            "Large",
        ),
        SizeClass::ExtraLarge => (
            Dimensions {
                height: rng.jitter(83, 2),
                width: rng.jitter(56, 2),
                depth: rng.jitter(33, 2),
            },
            rng.jitter(125, 10),
            20900,
            "Extra Large",
        ),
    }
}

fn material_factor(m: Material) -> f64 {
    match m {
        Material::Aluminium => 2.6,
        Material::Leather => 2.3,
        Material::Polycarbonate => 1.3,
        Material::Abs => 1.0,
        Material::Nylon => 0.95,
        Material::Polyester => 0.85,
    }
}

/// Product number `n` of the demo catalogue.
pub fn demo_product(n: usize) -> (ProductRow, Vec<VariantRow>) {
    let mut rng = Rng::new(n as u64 + 1);
    let class = SizeClass::ALL[n % SizeClass::ALL.len()];
    let style = Style::ALL[(n / 5) % Style::ALL.len()];
    let material = Material::ALL[(n / 25) % Material::ALL.len()];
    let brand = BRANDS[rng.below(BRANDS.len())];
    let series = SERIES[rng.below(SERIES.len())];
    let (dims, capacity, base, label) = size_profile(class, &mut rng);
    let hard_shell = matches!(
        material,
        Material::Polycarbonate | Material::Aluminium | Material::Abs
    );
    let wheels = match (class, hard_shell) {
        (SizeClass::Underseat, _) => [Wheels::None, Wheels::Two][rng.below(2)],
        (_, true) => Wheels::Spinner,
        (_, false) => [Wheels::Two, Wheels::Four, Wheels::None][rng.below(3)],
    };
    let mut features: Vec<Feature> = Feature::ALL
        .iter()
        .copied()
        .filter(|_| rng.below(3) == 0)
        .collect();
    if hard_shell && !features.contains(&Feature::TsaLock) {
        features.push(Feature::TsaLock);
    }
    if style == Style::Business && !features.contains(&Feature::LaptopCompartment) {
        features.push(Feature::LaptopCompartment);
    }
    let price =
        ((base as f64 * material_factor(material) / 1000.0).round() as i64 * 1000 - 100).max(1900);
    let wheels_label = match wheels {
        Wheels::Spinner => " Spinner",
        Wheels::Four => " 4-Wheel",
        Wheels::Two => " Roller",
        Wheels::None => "",
    };
    let name = format!("{series} {label}{wheels_label}");
    let slug = super::model::slugify(&format!("{brand} {series} {label} {n}"));
    let feature_words: Vec<&str> = features
        .iter()
        .map(|f| match f {
            Feature::TsaLock => "a TSA-approved lock",
            Feature::Expandable => "an expandable zip",
            Feature::UsbPort => "a USB charging port",
            Feature::LaptopCompartment => "a padded laptop compartment",
            Feature::WaterResistant => "water-resistant seams",
            Feature::TelescopicHandle => "a telescopic handle",
        })
        .collect();
    let weight = (capacity * 55 + rng.below(800) as i32).clamp(400, 9000);
    let description = format!(
        "{} {} luggage for {} trips: {} litres, {:.1} kg{}{}.",
        match material {
            Material::Polycarbonate => "Featherweight polycarbonate",
            Material::Aluminium => "Anodised aluminium",
            Material::Abs => "Durable ABS",
            Material::Nylon => "Ballistic nylon",
            Material::Polyester => "Recycled polyester",
            Material::Leather => "Full-grain leather",
        },
        label.to_lowercase(),
        style.as_str(),
        capacity,
        f64::from(weight) / 1000.0,
        if feature_words.is_empty() {
            ""
        } else {
            ", with "
        },
        feature_words.join(", "),
    );
    let now = crate::db::now();
    let id = crate::ids::new_id("prod");
    let mut row = ProductRow {
        id: id.clone(),
        slug: slug.clone(),
        name,
        brand: brand.to_owned(),
        description,
        style: style.as_str().to_owned(),
        material: material.as_str().to_owned(),
        wheels: wheels.as_str().to_owned(),
        features: {
            let mut f: Vec<&str> = features.iter().map(|f| f.as_str()).collect();
            f.sort_unstable();
            f.join(",")
        },
        warranty_years: [2, 3, 5, 10][rng.below(4)],
        images: format!("https://img.valise.example/{slug}/front.jpg\nhttps://img.valise.example/{slug}/open.jpg"),
        height_cm: 0,
        width_cm: 0,
        depth_cm: 0,
        dim_max: 0,
        dim_mid: 0,
        dim_min: 0,
        size_class: String::new(),
        weight_g: weight,
        capacity_l: capacity.clamp(1, 200),
        base_price: price,
        min_price: price,
        popularity: 0,
        status: ACTIVE.to_owned(),
        version: 1,
        created_at: now,
        updated_at: now,
    };
    row.set_dimensions(dims);
    let first_color = rng.below(COLORS.len());
    let code: String = format!("{}{}", &series[..3], &label[..1]).to_uppercase();
    let variants = (0..3)
        .map(|i| {
            let color = COLORS[(first_color + i * 3) % COLORS.len()];
            VariantRow {
                id: crate::ids::new_id("var"),
                product_id: id.clone(),
                sku: format!("{code}-{n:05}-{}", color[..3].to_uppercase()),
                color: color.to_owned(),
                // The third colour is a limited edition, a little dearer.
                price_override: (i == 2).then_some(price + 2000),
                available: [0, 3, 12, 40, 75][rng.below(5)],
                status: ACTIVE.to_owned(),
                version: 1,
                created_at: now,
                updated_at: now,
                images: String::new(),
            }
        })
        .collect();
    (row, variants)
}

/// Inserts products `0..count` that do not exist yet, in batches; reports progress.
pub fn seed(
    conn: &mut DbConnection,
    count: usize,
    mut progress: impl FnMut(usize, usize),
) -> diesel::QueryResult<usize> {
    let existing = store::existing_slugs(conn)?;
    let mut inserted = 0;
    let mut n = 0;
    while n < count {
        let end = (n + BATCH).min(count);
        inserted += crate::db::write_transaction(conn, |conn| {
            let mut added = 0;
            for i in n..end {
                let (row, variants) = demo_product(i);
                if existing.contains(&row.slug) {
                    continue;
                }
                store::insert_product_rows(conn, &row, &variants)?;
                added += 1;
            }
            diesel::QueryResult::Ok(added)
        })?;
        n = end;
        progress(n, count);
    }
    store::bump_catalog_version(conn)?;
    Ok(inserted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn the_demo_catalogue_covers_every_class_style_and_material() {
        let products: Vec<_> = (0..DEMO_PRODUCTS).map(demo_product).collect();
        let classes: HashSet<_> = products.iter().map(|(p, _)| p.size_class.clone()).collect();
        let styles: HashSet<_> = products.iter().map(|(p, _)| p.style.clone()).collect();
        let materials: HashSet<_> = products.iter().map(|(p, _)| p.material.clone()).collect();
        assert_eq!(classes.len(), SizeClass::ALL.len(), "{classes:?}");
        assert_eq!(styles.len(), Style::ALL.len());
        assert_eq!(materials.len(), Material::ALL.len());
        let slugs: HashSet<_> = products.iter().map(|(p, _)| p.slug.clone()).collect();
        assert_eq!(slugs.len(), DEMO_PRODUCTS, "slugs are unique");
        let skus: HashSet<_> = products
            .iter()
            .flat_map(|(_, v)| v.iter().map(|v| v.sku.clone()))
            .collect();
        assert!(skus.len() >= 600);
        for (p, _) in &products {
            // The generated dimensions land in the class they were generated for.
            assert_eq!(p.size_class, SizeClass::classify(p.dimensions()).as_str());
            assert!(
                p.base_price >= 1900 && p.base_price < 100_000,
                "{}",
                p.base_price
            );
        }
    }
}
