//! The catalogue as CSV, one row per variant with its product's fields, written by the
//! export and read back by the import. The import finds products by slug and variants by
//! SKU: it creates what is missing, changes what is there and sets the stock as counted.
//! Every field goes through the same parsers as the JSON edits (`NewProduct::parse`,
//! `ProductPatch`, `NewVariant::parse`, `VariantPatch`) and every write through the same use
//! cases (`catalog::editing`), so a CSV can break no rule the API keeps.

use std::collections::HashMap;

use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use super::editing;
use super::export::{required_on_import, IMAGES};
use super::model::{
    images_from_text, Dimensions, Feature, Material, NewProduct, NewVariant, ProductPatch, Style,
    VariantImages, VariantPatch, Wheels,
};
use super::store::{self, ProductRow, VariantRow};
use crate::catalog::model::PriceInput;
use crate::db::schema::variants;
use crate::db::{write_transaction, DbConnection};
use crate::http::csv::unguard;
use crate::http::error::{ApiError, FieldError};
use crate::invalid::Invalid;
use crate::money::Currency;

/// What to do when some rows are invalid.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImportMode {
    /// Write nothing if any row fails (the default).
    #[default]
    AllOrNothing,
    /// Write the valid rows and report the others.
    ValidRows,
}

/// One refused cell: `row` counts the header as row 1, as a spreadsheet shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RowError {
    /// The row, the header being row 1.
    pub row: usize,
    /// The column's name in the header (`row` when the row as a whole is refused).
    pub column: String,
    /// What is wrong with it.
    pub problem: String,
}

impl RowError {
    fn new(row: usize, column: &str, problem: impl Into<String>) -> Self {
        Self {
            row,
            column: column.to_owned(),
            problem: problem.into(),
        }
    }

    /// As a field of a validation problem: `rows[3].price`.
    pub fn field_error(&self) -> FieldError {
        FieldError::new(format!("rows[{}].{}", self.row, self.column), &self.problem)
    }
}

/// What an import did.
#[derive(Debug, Default, Serialize, ToSchema)]
#[schema(example = json!({
    "mode": "valid_rows", "rows": 3, "written": 2,
    "products_created": 1, "products_updated": 0, "variants_created": 1, "variants_updated": 1,
    "rejected": [{"row": 4, "column": "available", "problem": "must be a whole number"}]
}))]
pub struct ImportReport {
    /// How invalid rows were handled.
    pub mode: ImportMode,
    /// Data rows read (the header not counted).
    pub rows: usize,
    /// Rows written.
    pub written: usize,
    /// Products created (their slug was new).
    pub products_created: usize,
    /// Products changed (an unchanged product keeps its edit version).
    pub products_updated: usize,
    /// Variants created (their SKU was new).
    pub variants_created: usize,
    /// Variants whose colour, price, stock or pictures changed.
    pub variants_updated: usize,
    /// Rows not written, with why (only in `valid_rows` mode; `all_or_nothing` answers 422).
    pub rejected: Vec<RowError>,
}

/// One data row, parsed and checked by the edit rules.
struct Row {
    number: usize,
    slug: String,
    product: NewProduct,
    variant: NewVariant,
    /// Whether the file has the pictures column: `variant.images` is then what it says.
    images_given: bool,
}

/// The rows of `text`; a row that fails any rule is an error instead.
fn read(text: &[u8], currency: Currency) -> Result<Vec<Result<Row, Vec<RowError>>>, RowError> {
    let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(text);
    let header = reader
        .headers()
        .map_err(|e| RowError::new(1, "row", format!("not CSV: {}", reason(&e))))?
        .clone();
    let at: HashMap<&str, usize> = header.iter().enumerate().map(|(i, h)| (h, i)).collect();
    for name in required_on_import() {
        if !at.contains_key(name) {
            return Err(RowError::new(1, name, "missing column"));
        }
    }
    let mut rows = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, record) in reader.records().enumerate() {
        let number = i + 2;
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                rows.push(Err(vec![RowError::new(number, "row", reason(&e))]));
                continue;
            }
        };
        let cell = |name: &str| {
            at.get(name)
                .and_then(|i| record.get(*i))
                .map(unguard)
                .unwrap_or_default()
                .to_owned()
        };
        let images_given = at.contains_key(IMAGES);
        let parsed = parse_row(number, &cell, images_given, currency);
        if let Ok(row) = &parsed {
            if let Some(first) = seen.insert(row.variant.sku.clone(), number) {
                rows.push(Err(vec![RowError::new(
                    number,
                    "sku",
                    format!("appears again (first on row {first})"),
                )]));
                continue;
            }
        }
        rows.push(parsed);
    }
    Ok(rows)
}

fn reason(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths { .. } => {
            "has a different number of cells than the header".into()
        }
        csv::ErrorKind::Utf8 { .. } => "is not UTF-8 text".into(),
        _ => "is not valid CSV".into(),
    }
}

/// A cell as a whole number.
fn int(errors: &mut Vec<RowError>, row: usize, column: &str, text: &str) -> i32 {
    text.trim().parse().unwrap_or_else(|_| {
        errors.push(RowError::new(row, column, "must be a whole number"));
        0
    })
}

/// A cell as one word of a vocabulary.
fn word<T: Copy>(
    errors: &mut Vec<RowError>,
    row: usize,
    column: &str,
    text: &str,
    parse: fn(&str) -> Option<T>,
    all: &[T],
    name: fn(T) -> &'static str,
) -> Option<T> {
    let found = parse(text.trim());
    if found.is_none() {
        let names: Vec<&str> = all.iter().map(|t| name(*t)).collect();
        errors.push(RowError::new(
            row,
            column,
            format!("must be one of: {}", names.join(", ")),
        ));
    }
    found
}

/// A cell as an amount in the shop's currency, in major units (`129.00`).
fn price(
    errors: &mut Vec<RowError>,
    row: usize,
    column: &str,
    text: &str,
    currency: Currency,
) -> i64 {
    currency.amount(text.trim()).unwrap_or_else(|e| {
        errors.push(RowError::new(row, column, e));
        0
    })
}

/// The fields a rule refused.
fn field_errors(invalid: Invalid) -> Vec<FieldError> {
    match invalid {
        Invalid::Fields(fields) => fields,
        Invalid::Sensitive { field } => vec![FieldError::new(
            field,
            "looks like a card, bank account or identity-document number",
        )],
        Invalid::Transition(detail) => vec![FieldError::new("row", detail)],
    }
}

/// The column of a JSON edit's field, as the edit rules name it.
fn column_of(field: &str) -> &str {
    match field {
        "price.amount" => "price",
        "dimensions_cm" | "dimensions_cm.height" => "height_cm",
        "dimensions_cm.width" => "width_cm",
        "dimensions_cm.depth" => "depth_cm",
        "variant.sku" => "sku",
        "variant.color" => "color",
        "variant.price.amount" => "variant_price",
        "variant.available" => "available",
        f if f.starts_with("variant.images") => IMAGES,
        other => other.split(['.', '[']).next().unwrap_or(other),
    }
}

fn parse_row(
    number: usize,
    cell: &dyn Fn(&str) -> String,
    images_given: bool,
    currency: Currency,
) -> Result<Row, Vec<RowError>> {
    let mut errors = Vec::new();
    let e = &mut errors;
    let style = word(
        e,
        number,
        "style",
        &cell("style"),
        Style::parse,
        Style::ALL,
        Style::as_str,
    );
    let material = word(
        e,
        number,
        "material",
        &cell("material"),
        Material::parse,
        Material::ALL,
        Material::as_str,
    );
    let wheels = word(
        e,
        number,
        "wheels",
        &cell("wheels"),
        Wheels::parse,
        Wheels::ALL,
        Wheels::as_str,
    );
    let features: Vec<Feature> = cell("features")
        .split(';')
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .filter_map(|f| {
            word(
                e,
                number,
                "features",
                f,
                Feature::parse,
                Feature::ALL,
                Feature::as_str,
            )
        })
        .collect();
    let warranty_years = int(e, number, "warranty_years", &cell("warranty_years"));
    let dimensions_cm = Dimensions {
        height: int(e, number, "height_cm", &cell("height_cm")),
        width: int(e, number, "width_cm", &cell("width_cm")),
        depth: int(e, number, "depth_cm", &cell("depth_cm")),
    };
    let weight_g = int(e, number, "weight_g", &cell("weight_g"));
    let capacity_l = int(e, number, "capacity_l", &cell("capacity_l"));
    let base = price(e, number, "price", &cell("price"), currency);
    let own_price = cell("variant_price");
    let own_price = (!own_price.trim().is_empty())
        .then(|| price(e, number, "variant_price", &own_price, currency));
    let available = int(e, number, "available", &cell("available"));
    let images = if images_given {
        images_from_text(IMAGES, &cell(IMAGES)).unwrap_or_else(|invalid| {
            for f in field_errors(invalid) {
                e.push(RowError::new(number, IMAGES, f.message));
            }
            Vec::new()
        })
    } else {
        Vec::new()
    };
    let (Some(style), Some(material), Some(wheels)) = (style, material, wheels) else {
        return Err(errors);
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    let slug = cell("slug");
    let product = NewProduct {
        slug: Some(slug.clone()),
        name: cell("name"),
        brand: cell("brand"),
        description: cell("description"),
        style,
        material,
        wheels,
        features,
        warranty_years,
        images: cell("images")
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
        dimensions_cm,
        weight_g,
        capacity_l,
        price: PriceInput { amount: base },
        variants: Vec::new(),
    };
    let variant = NewVariant {
        sku: cell("sku"),
        color: cell("color"),
        price: own_price.map(|amount| PriceInput { amount }),
        available,
        images,
    };
    // The edit rules, all of them, on a copy: what is kept is what was sent.
    let checked = [
        product.clone().parse().err(),
        variant.clone().parse("variant").err(),
    ];
    for invalid in checked.into_iter().flatten() {
        for f in field_errors(invalid) {
            errors.push(RowError::new(
                number,
                column_of(&f.field),
                picture_problem(&f.field, f.message),
            ));
        }
    }
    if errors.is_empty() {
        Ok(Row {
            number,
            slug,
            product,
            variant,
            images_given,
        })
    } else {
        Err(errors)
    }
}

/// A refused picture's problem, saying which picture (the first is 1): the cell holds them
/// all, so the column alone does not.
fn picture_problem(field: &str, message: String) -> String {
    let index = field
        .strip_prefix("variant.images[")
        .and_then(|rest| rest.split(']').next())
        .and_then(|i| i.parse::<usize>().ok());
    match index {
        Some(i) => format!("picture {}: {message}", i + 1),
        None => message,
    }
}

/// What one row wrote.
#[derive(Default)]
struct Wrote {
    product_created: bool,
    product_updated: bool,
    variant_created: bool,
    variant_updated: bool,
}

/// Writes one checked row through the edit use cases.
fn apply(
    conn: &mut DbConnection,
    row: Row,
    actor: &str,
    currency: &str,
) -> Result<Wrote, ApiError> {
    let mut wrote = Wrote::default();
    let product_id = match store::find(conn, &row.slug)?.filter(|p| p.slug == row.slug) {
        None => {
            let draft = row.product.parse()?;
            wrote.product_created = true;
            editing::create_product(conn, &draft, currency)?.0.id
        }
        Some(current) => {
            let p = row.product;
            if changed(&current, &p) {
                let patch = ProductPatch {
                    name: Some(p.name),
                    brand: Some(p.brand),
                    description: Some(p.description),
                    style: Some(p.style),
                    material: Some(p.material),
                    wheels: Some(p.wheels),
                    features: Some(p.features),
                    warranty_years: Some(p.warranty_years),
                    images: Some(p.images),
                    dimensions_cm: Some(p.dimensions_cm),
                    weight_g: Some(p.weight_g),
                    capacity_l: Some(p.capacity_l),
                    price: Some(p.price),
                };
                editing::update_product(conn, &current.id, |_| true, patch, currency)?;
                wrote.product_updated = true;
            }
            current.id
        }
    };
    let existing: Option<VariantRow> = variants::table
        .filter(variants::sku.eq(&row.variant.sku))
        .select(VariantRow::as_select())
        .first(conn)
        .optional()?;
    match existing {
        None => {
            let draft = row.variant.parse("variant")?;
            editing::create_variant(conn, &product_id, &draft, currency)?;
            wrote.variant_created = true;
        }
        Some(v) if v.product_id != product_id => {
            return Err(ApiError::validation(
                "variant.sku",
                "belongs to another product",
            ));
        }
        Some(v) => {
            let v_price = row.variant.price.as_ref().map(|p| p.amount);
            let images = row
                .images_given
                .then_some(row.variant.images)
                .filter(|images| {
                    // Checked by the edit rules already: a refusal here would be a change.
                    VariantImages::parse(IMAGES, images.clone()).map_or(true, |parsed| {
                        parsed.as_slice() != VariantImages::from_stored(&v.images)
                    })
                });
            if v.color != row.variant.color.trim()
                || v.price_override != v_price
                || images.is_some()
            {
                let patch = VariantPatch {
                    color: Some(row.variant.color.clone()),
                    price: Some(row.variant.price),
                    images,
                };
                editing::update_variant(conn, &v.id, |_| true, patch, currency)?;
                wrote.variant_updated = true;
            }
            if v.available != row.variant.available {
                let stock = crate::catalog::model::StockLevel {
                    available: row.variant.available,
                }
                .parse()?;
                editing::set_stock(conn, &v.id, stock, actor, currency)?;
                wrote.variant_updated = true;
            }
        }
    }
    Ok(wrote)
}

/// Whether a row changes its product (an unchanged product keeps its edit version).
fn changed(current: &ProductRow, p: &NewProduct) -> bool {
    let features: Vec<&str> = p.features.iter().map(|f| f.as_str()).collect();
    current.name != p.name.trim()
        || current.brand != p.brand.trim()
        || current.description != p.description.trim()
        || current.style != p.style.as_str()
        || current.material != p.material.as_str()
        || current.wheels != p.wheels.as_str()
        || current
            .features
            .split(',')
            .filter(|f| !f.is_empty())
            .collect::<Vec<_>>()
            != features
        || current.warranty_years != p.warranty_years
        || current
            .images
            .lines()
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            != p.images
        || current.height_cm != p.dimensions_cm.height
        || current.width_cm != p.dimensions_cm.width
        || current.depth_cm != p.dimensions_cm.depth
        || current.weight_g != p.weight_g
        || current.capacity_l != p.capacity_l
        || current.base_price != p.price.amount
}

/// Imports `text` in one transaction: in `AllOrNothing` mode any refused row undoes every
/// write (and the refusals answer 422); in `ValidRows` mode each row is a savepoint and the
/// refused ones are reported.
pub fn import(
    conn: &mut DbConnection,
    text: &[u8],
    mode: ImportMode,
    currency: Currency,
    actor: &str,
) -> Result<ImportReport, ApiError> {
    let rows = read(text, currency).map_err(|e| ApiError::Validation(vec![e.field_error()]))?;
    let mut report = ImportReport {
        mode,
        rows: rows.len(),
        ..ImportReport::default()
    };
    let code = currency.code();
    write_transaction(conn, |conn| {
        for row in rows {
            let row = match row {
                Ok(row) => row,
                Err(errors) => {
                    report.rejected.extend(errors);
                    continue;
                }
            };
            let number = row.number;
            match write_transaction(conn, |conn| apply(conn, row, actor, code)) {
                Ok(w) => {
                    report.written += 1;
                    report.products_created += usize::from(w.product_created);
                    report.products_updated += usize::from(w.product_updated);
                    report.variants_created += usize::from(w.variant_created);
                    report.variants_updated += usize::from(w.variant_updated);
                }
                Err(ApiError::Validation(fields)) => report.rejected.extend(
                    fields
                        .into_iter()
                        .map(|f| RowError::new(number, column_of(&f.field), f.message)),
                ),
                Err(ApiError::SensitiveData { field }) => report.rejected.push(RowError::new(
                    number,
                    column_of(&field),
                    "looks like a card, bank account or identity-document number",
                )),
                Err(ApiError::Conflict(detail)) => {
                    report.rejected.push(RowError::new(number, "slug", detail));
                }
                Err(other) => return Err(other),
            }
        }
        report.rejected.sort_by_key(|e| e.row);
        if mode == ImportMode::AllOrNothing && !report.rejected.is_empty() {
            return Err(ApiError::Validation(
                report.rejected.iter().map(RowError::field_error).collect(),
            ));
        }
        Ok(report)
    })
}
