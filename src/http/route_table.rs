//! The table of every route the code serves, from the generated OpenAPI document (which lists
//! them all) plus the few undocumented ones.
//!
//! It answers two questions actix itself does not answer cheaply:
//! - **which template a path belongs to** (`/v1/orders/{number}`), the label of the request
//!   metrics. Asking actix (`HttpRequest::match_pattern`) runs its router a second time, a
//!   regex per dynamic resource on the way (measured in BENCHMARKS.md); a radix tree
//!   ([`matchit`]) answers in one walk of the path.
//! - **which methods a path is served under**, for requests that match no route: 405 with
//!   `Allow` when the path exists under another method, otherwise 404. Handlers registered
//!   with the method macros are guarded resources, so actix itself would answer 404.

use actix_web::dev::ResourceDef;
use actix_web::{web, HttpRequest, HttpResponse};
use anyhow::{bail, Context};
use utoipa::openapi::OpenApi;

use super::error::ApiError;

pub struct RouteTable {
    /// Every route, with the methods it serves.
    routes: Vec<(ResourceDef, Vec<String>)>,
    /// Path → route, the most specific first (static segments before parameters).
    templates: matchit::Router<RouteId>,
}

/// A route of the table (its position): a cheap key for per-route state such as the metric
/// series a worker has already looked up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RouteId(usize);

impl RouteId {
    /// Its position, below [`RouteTable::len`].
    pub fn index(self) -> usize {
        self.0
    }
}

impl RouteTable {
    /// `extra` are routes the document does not list, in actix's pattern syntax.
    pub fn from_spec(spec: &OpenApi, extra: &[(&str, &[&str])]) -> anyhow::Result<Self> {
        let mut routes: Vec<(ResourceDef, Vec<String>)> = spec
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let methods = [
                    ("GET", item.get.is_some()),
                    ("POST", item.post.is_some()),
                    ("PUT", item.put.is_some()),
                    ("PATCH", item.patch.is_some()),
                    ("DELETE", item.delete.is_some()),
                ]
                .into_iter()
                .filter(|(_, present)| *present)
                .map(|(m, _)| m.to_owned())
                .collect();
                (ResourceDef::new(path.as_str()), methods)
            })
            .collect();
        for (path, methods) in extra {
            routes.push((
                ResourceDef::new(*path),
                methods.iter().map(|m| (*m).to_owned()).collect(),
            ));
        }
        let mut templates = matchit::Router::new();
        for (id, (def, _)) in routes.iter().enumerate() {
            let pattern = def.pattern().unwrap_or_default();
            for route in tree_routes(pattern)? {
                templates
                    .insert(route, RouteId(id))
                    .with_context(|| format!("route table: {pattern}"))?;
            }
        }
        Ok(Self { routes, templates })
    }

    /// How many routes there are.
    pub fn len(&self) -> usize {
        self.routes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// The route `path` belongs to.
    pub fn route_of(&self, path: &str) -> Option<RouteId> {
        self.templates.at(path).ok().map(|m| *m.value)
    }

    /// A route's template, as written in the code (`/v1/orders/{number}`).
    pub fn template_of(&self, route: RouteId) -> &str {
        self.routes
            .get(route.0)
            .and_then(|(def, _)| def.pattern())
            .unwrap_or_default()
    }

    /// The methods served at `path`, if the path exists at all.
    pub fn allowed(&self, path: &str) -> Option<Vec<String>> {
        let mut allowed: Vec<String> = self
            .routes
            .iter()
            .filter(|(def, _)| def.is_match(path))
            .flat_map(|(_, methods)| methods.iter().cloned())
            .collect();
        if allowed.is_empty() {
            return None;
        }
        allowed.sort();
        allowed.dedup();
        Some(allowed)
    }
}

/// The radix-tree routes matching what an actix pattern matches. Parameters are renamed by
/// position (the tree refuses two names at one position, e.g. `{id}` and `{product_id}`, and
/// only the template is wanted back). A trailing `{name:.*}` becomes a catch-all, plus the
/// bare prefix it also matches; any other inline regex is refused.
fn tree_routes(pattern: &str) -> anyhow::Result<Vec<String>> {
    let mut route = String::with_capacity(pattern.len());
    let mut rest = pattern;
    let mut position = 0;
    while let Some(open) = rest.find('{') {
        route.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('}') else {
            bail!("unclosed parameter in {pattern}");
        };
        let param = &rest[open + 1..open + close];
        rest = &rest[open + close + 1..];
        match param.split_once(':') {
            None => route.push_str(&format!("{{p{position}}}")),
            Some((_, ".*")) if rest.is_empty() => {
                let prefix = route.clone();
                route.push_str(&format!("{{*p{position}}}"));
                return Ok(vec![prefix, route]);
            }
            Some(_) => bail!("unsupported parameter {{{param}}} in {pattern}"),
        }
        position += 1;
    }
    route.push_str(rest);
    Ok(vec![route])
}

pub async fn no_route(
    req: HttpRequest,
    table: web::Data<RouteTable>,
) -> Result<HttpResponse, ApiError> {
    Err(match table.allowed(req.path()) {
        Some(allow) => ApiError::MethodNotAllowed { allow },
        None => ApiError::NotFound,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem, PathsBuilder};
    use utoipa::openapi::OpenApiBuilder;

    fn table() -> RouteTable {
        let get = || PathItem::new(HttpMethod::Get, OperationBuilder::new().build());
        let post = || PathItem::new(HttpMethod::Post, OperationBuilder::new().build());
        let paths = PathsBuilder::new()
            .path("/v1/policies/current", get())
            .path("/v1/policies/{version}", get())
            .path("/v1/products/{id_or_slug}", get())
            .path("/v1/admin/products/{id}", post())
            .path("/v1/admin/products/{product_id}/variants", post())
            .build();
        let spec = OpenApiBuilder::new().paths(paths).build();
        RouteTable::from_spec(&spec, &[("/docs/{_:.*}", &["GET"])]).unwrap()
    }

    /// The template `path` belongs to.
    fn template_of_path<'t>(table: &'t RouteTable, path: &str) -> Option<&'t str> {
        table.route_of(path).map(|route| table.template_of(route))
    }

    #[test]
    fn paths_map_to_their_template_static_segments_first() {
        let table = table();
        let cases = [
            ("/v1/policies/current", Some("/v1/policies/current")),
            ("/v1/policies/3", Some("/v1/policies/{version}")),
            ("/v1/products/prod_0a1b", Some("/v1/products/{id_or_slug}")),
            (
                "/v1/admin/products/p1/variants",
                Some("/v1/admin/products/{product_id}/variants"),
            ),
            ("/docs/", Some("/docs/{_:.*}")),
            ("/docs/swagger-ui.css", Some("/docs/{_:.*}")),
            ("/docs/a/b", Some("/docs/{_:.*}")),
            ("/v1/products/", None),
            ("/v1/products/a/b", None),
            ("/v1/policies", None),
            ("/nowhere", None),
        ];
        for (path, template) in cases {
            assert_eq!(template_of_path(&table, path), template, "{path}");
        }
    }

    #[test]
    fn allowed_methods_are_the_union_over_matching_routes() {
        let table = table();
        assert_eq!(
            table.allowed("/v1/policies/current"),
            Some(vec!["GET".to_owned()])
        );
        assert_eq!(
            table.allowed("/v1/admin/products/p1"),
            Some(vec!["POST".to_owned()])
        );
        assert_eq!(table.allowed("/nowhere"), None);
    }

    #[test]
    fn every_documented_route_is_its_own_template() {
        let spec = crate::startup::spec();
        let table = RouteTable::from_spec(&spec, &[]).unwrap();
        for template in spec.paths.paths.keys() {
            let path: String = template
                .split('/')
                .map(|segment| {
                    if segment.starts_with('{') {
                        "x1"
                    } else {
                        segment
                    }
                })
                .collect::<Vec<_>>()
                .join("/");
            assert_eq!(template_of_path(&table, &path), Some(template.as_str()));
        }
    }

    #[test]
    fn inline_regexes_other_than_a_trailing_catch_all_are_refused() {
        assert!(tree_routes("/v1/orders/{number:\\d+}").is_err());
        assert!(tree_routes("/files/{rest:.*}/meta").is_err());
        assert_eq!(
            tree_routes("/a/{x}/b/{y}").unwrap(),
            vec!["/a/{p0}/b/{p1}".to_owned()]
        );
    }
}
