//! Catalog domain: luggage attributes as closed vocabularies, measurements and the
//! size-class rule, products and variants as staff submit them and as they are once parsed,
//! and the product views clients see. No SQL; of HTTP only the shapes of the bodies (serde
//! and their OpenAPI schemas), never a request, a response or a status.

mod dimensions;
mod facets;
mod fields;
mod product;
mod variant;
mod variant_images;
mod views;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use dimensions::{Dimensions, CABIN_BOX, LARGE_MAX_CM, MEDIUM_MAX_CM, UNDERSEAT_BOX};
pub use facets::{
    facets_example, CapacityCount, FacetProduct, Facets, FeatureCount, ValueCount, WeightCount,
    WheelsCount,
};
pub use fields::{
    slugify, terms, text, Brand, Capacity, Color, Description, Features, Images, Price, PriceInput,
    ProductName, ScreenedText, Sku, Slug, Stock, StockDelta, StockReason, Text, Warranty, Weight,
};
pub use product::{ImageUrl, NewProduct, ProductChanges, ProductDraft, ProductPatch};
pub use variant::{
    NewVariant, StockAdjustment, StockChange, StockLevel, VariantChanges, VariantDraft,
    VariantPatch,
};
pub use variant_images::{
    images_from_text, images_to_text, VariantImage, VariantImageInput, VariantImages,
};
pub use views::{product_example, Money, ProductList, ProductView, VariantView};

/// A closed vocabulary stored as text: `as_str`/`parse` round-trip, serde uses the same names.
macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(s: &str) -> Option<Self> {
                match s { $($text => Some($name::$variant),)+ _ => None }
            }
        }
    };
}

vocabulary!(
    /// What the luggage is for.
    Style { Business => "business", Travel => "travel", Adventure => "adventure", Kids => "kids", Weekender => "weekender" }
);
vocabulary!(
    /// The shell or body material.
    Material { Polycarbonate => "polycarbonate", Aluminium => "aluminium", Abs => "abs", Nylon => "nylon", Polyester => "polyester", Leather => "leather" }
);
vocabulary!(
    /// Wheels: none, two inline wheels, four wheels, or four double spinner wheels.
    Wheels { None => "none", Two => "two", Four => "four", Spinner => "spinner" }
);
vocabulary!(
    /// A feature of the luggage: a TSA-approved lock, an expandable zip, a USB charging port,
    /// a padded laptop compartment, a water-resistant shell or fabric, a telescopic handle.
    Feature { TsaLock => "tsa_lock", Expandable => "expandable", UsbPort => "usb_port", LaptopCompartment => "laptop_compartment", WaterResistant => "water_resistant", TelescopicHandle => "telescopic_handle" }
);
vocabulary!(
    /// Derived from the dimensions; see [`SizeClass::classify`].
    SizeClass { Underseat => "underseat", Cabin => "cabin", Medium => "medium", Large => "large", ExtraLarge => "extra_large" }
);
vocabulary!(
    /// Whether a product is sold: `active` (listed, can be added to carts) or `archived`
    /// (not listed and no longer sold, but still readable by id for the orders that hold it).
    ProductStatus { Active => "active", Archived => "archived" }
);
vocabulary!(
    /// Whether a variant is sold: `active`, or `archived` (no longer sold; still readable for
    /// past orders).
    VariantStatus { Active => "active", Archived => "archived" }
);

/// The most units a variant can hold: a stock level, and where adjustments stop (far above
/// any warehouse, and far below where a 32-bit count would wrap).
pub const MAX_STOCK: i32 = 1_000_000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabularies_round_trip() {
        for s in Style::ALL {
            assert_eq!(Style::parse(s.as_str()), Some(*s));
        }
        assert_eq!(Feature::parse("tsa_lock"), Some(Feature::TsaLock));
        assert_eq!(Material::parse("titanium"), None);
    }
}
