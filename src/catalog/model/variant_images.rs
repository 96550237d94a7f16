//! Pictures of one variant (a colour shows its own case), each with the alt text a screen
//! reader speaks and the pixel size a page reserves before the picture arrives.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::fields::Text;
use crate::invalid::Invalid;

/// Alt text: what the picture shows, for those who cannot see it.
pub type AltText = Text<200>;

/// Widest and tallest picture taken, in pixels: past any camera, far below an overflow.
pub const MAX_PIXELS: i32 = 20_000;

/// A picture of a variant as a manager sends it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"url": "https://cdn.example.com/voyager-55-sage-front.jpg",
    "alt": "Voyager 55 Spinner in sage, front view", "width": 1600, "height": 2000}))]
pub struct VariantImageInput {
    /// An `https://` URL of at most 500 bytes, without whitespace or control characters.
    #[schema(
        max_length = 500,
        pattern = r"^https://[^\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$",
        example = "https://cdn.example.com/voyager-55-sage-front.jpg"
    )]
    pub url: String,
    /// What the picture shows, 1–200 characters (trimmed; no control characters).
    #[schema(
        min_length = 1,
        max_length = 200,
        example = "Voyager 55 Spinner in sage, front view"
    )]
    pub alt: String,
    /// Width in pixels, 1–20,000.
    #[schema(minimum = 1, maximum = 20_000, example = 1600)]
    pub width: i32,
    /// Height in pixels, 1–20,000.
    #[schema(minimum = 1, maximum = 20_000, example = 2000)]
    pub height: i32,
}

/// A picture of a variant, as stored and as shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"url": "https://cdn.example.com/voyager-55-sage-front.jpg",
    "alt": "Voyager 55 Spinner in sage, front view", "width": 1600, "height": 2000}))]
pub struct VariantImage {
    /// The picture's `https://` URL.
    #[schema(example = "https://cdn.example.com/voyager-55-sage-front.jpg")]
    pub url: String,
    /// What the picture shows.
    #[schema(example = "Voyager 55 Spinner in sage, front view")]
    pub alt: String,
    /// Width in pixels.
    #[schema(minimum = 1, maximum = 20_000, example = 1600)]
    pub width: i32,
    /// Height in pixels.
    #[schema(minimum = 1, maximum = 20_000, example = 2000)]
    pub height: i32,
}

/// A variant's pictures, main picture first: at most [`VariantImages::MAX`], each valid.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VariantImages(Vec<VariantImage>);

impl VariantImages {
    pub const MAX: usize = 10;

    /// `field` names the list; a bad picture's field is reported as `field[i].alt` etc.
    pub fn parse(field: &str, images: Vec<VariantImageInput>) -> Result<Self, Invalid> {
        if images.len() > Self::MAX {
            return Err(Invalid::field(field, "at most 10 images"));
        }
        let mut parsed = Vec::with_capacity(images.len());
        for (i, image) in images.into_iter().enumerate() {
            let at = |name: &str| format!("{field}[{i}].{name}");
            let u = &image.url;
            let url_ok = u.len() <= 500
                && u.starts_with("https://")
                && u.len() > "https://".len()
                && !u.chars().any(|c| c.is_whitespace() || c.is_control());
            if !url_ok {
                return Err(Invalid::field(at("url"), "must be an https URL"));
            }
            let alt = AltText::parse(&at("alt"), &image.alt)?;
            for (name, value) in [("width", image.width), ("height", image.height)] {
                if !(1..=MAX_PIXELS).contains(&value) {
                    return Err(Invalid::field(at(name), "must be 1 to 20000 pixels"));
                }
            }
            parsed.push(VariantImage {
                url: image.url,
                alt: alt.into_string(),
                width: image.width,
                height: image.height,
            });
        }
        Ok(Self(parsed))
    }

    /// The pictures, main picture first.
    pub fn as_slice(&self) -> &[VariantImage] {
        &self.0
    }

    /// As stored in the variant's row: a JSON array, empty text for none.
    pub fn to_stored(&self) -> String {
        if self.0.is_empty() {
            return String::new();
        }
        serde_json::to_string(&self.0).unwrap_or_default()
    }

    /// The pictures of a stored row; none when the text holds none.
    pub fn from_stored(stored: &str) -> Vec<VariantImage> {
        if stored.is_empty() {
            return Vec::new();
        }
        serde_json::from_str(stored).unwrap_or_default()
    }
}

/// The pictures in one line of text, as the catalogue CSV holds them: the JSON array the API
/// shows and takes (`[{"url": …, "alt": …, "width": …, "height": …}]`), empty text for none.
/// JSON because alt text may hold any character, commas and line breaks included, and must
/// come back as it went out.
pub fn images_to_text(images: &[VariantImage]) -> String {
    if images.is_empty() {
        return String::new();
    }
    serde_json::to_string(images).unwrap_or_default()
}

/// Pictures from their text form (see [`images_to_text`]), still to be checked by
/// [`VariantImages::parse`]; blank text is none.
pub fn images_from_text(field: &str, text: &str) -> Result<Vec<VariantImageInput>, Invalid> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    // serde's own message may quote the value: the problem names the shape instead.
    serde_json::from_str(text).map_err(|_| {
        Invalid::field(
            field,
            "must be a JSON array of pictures, each {\"url\", \"alt\", \"width\", \"height\"}",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(url: &str, alt: &str, width: i32) -> VariantImageInput {
        VariantImageInput {
            url: url.into(),
            alt: alt.into(),
            width,
            height: 100,
        }
    }

    #[test]
    fn each_picture_needs_an_https_url_alt_text_and_a_size() {
        let ok = image("https://cdn.example.com/a.jpg", " Front ", 10);
        let images = VariantImages::parse("images", vec![ok.clone()]).unwrap();
        assert_eq!(images.0[0].alt, "Front");
        for (bad, field, message) in [
            (
                image("http://x/a.jpg", "a", 1),
                "images[1].url",
                "must be an https URL",
            ),
            (
                image("https://", "a", 1),
                "images[1].url",
                "must be an https URL",
            ),
            (
                image("https://x/a.jpg", " ", 1),
                "images[1].alt",
                "must be 1 to 200 characters",
            ),
            (
                image("https://x/a.jpg", &"a".repeat(201), 1),
                "images[1].alt",
                "must be 1 to 200 characters",
            ),
            (
                image("https://x/a.jpg", "a", 0),
                "images[1].width",
                "must be 1 to 20000 pixels",
            ),
        ] {
            assert_eq!(
                VariantImages::parse("images", vec![ok.clone(), bad]),
                Err(Invalid::field(field, message))
            );
        }
        assert_eq!(
            VariantImages::parse("images", vec![ok; 11]),
            Err(Invalid::field("images", "at most 10 images"))
        );
    }

    #[test]
    fn pictures_round_trip_through_their_text_form() {
        let images = VariantImages::parse(
            "images",
            vec![
                image(
                    "https://cdn.example.com/a.jpg",
                    "Front, \"sage\"\nsecond line",
                    10,
                ),
                image("https://cdn.example.com/b.jpg", "Back", 20),
            ],
        )
        .unwrap();
        let text = images_to_text(images.as_slice());
        let read = VariantImages::parse("images", images_from_text("images", &text).unwrap());
        assert_eq!(read.unwrap(), images);
        assert_eq!(images_to_text(&[]), "");
        assert!(images_from_text("images", " ").unwrap().is_empty());
        for bad in [
            "https://x/a.jpg",
            "[{\"url\": \"https://x/a.jpg\"}]",
            "[{}]",
            "{}",
        ] {
            assert!(images_from_text("images", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn stored_pictures_round_trip() {
        let images = VariantImages::parse(
            "images",
            vec![image("https://cdn.example.com/a.jpg", "Front", 10)],
        )
        .unwrap();
        assert_eq!(VariantImages::from_stored(&images.to_stored()), images.0);
        assert_eq!(VariantImages::default().to_stored(), "");
        assert!(VariantImages::from_stored("").is_empty());
    }
}
