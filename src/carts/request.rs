//! The shape every handler of one cart shares (`/v1/carts/{id}…`, here and in the rooms that
//! add to carts): the cart named by the path, reached only by its owner (the account, or
//! whoever holds its `X-Cart-Token`), read or changed in one transaction, answered as the
//! cart priced now.

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, HttpResponse};
use std::future::{ready, Ready};

use super::store::{Access, CartRow};
use super::view::view;
use crate::auth::Caller;
use crate::config::Shop;
use crate::db::{Db, DbConnection};
use crate::http::error::ApiError;

/// A request about one cart: the `{id}` of its path and who asks for it.
#[derive(Debug, Clone)]
pub struct CartRequest {
    id: String,
    access: Access,
}

impl FromRequest for CartRequest {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let caller = match Caller::from_request(req, payload).into_inner() {
            Ok(caller) => caller,
            Err(e) => return ready(Err(e)),
        };
        // Only routed under `/carts/{id}`: without the segment there is no cart to find.
        let Some(id) = req.match_info().get("id") else {
            return ready(Err(ApiError::NotFound));
        };
        ready(Ok(Self {
            id: id.to_owned(),
            access: Access::from_request(&caller, req),
        }))
    }
}

impl CartRequest {
    /// The cart, priced now; 404 when it is not the caller's.
    pub async fn show(self, db: &Db, shop: &Shop) -> Result<HttpResponse, ApiError> {
        let shop = shop.clone();
        let cart = db
            .run(move |conn| {
                let row = self.access.find(conn, &self.id)?;
                view(conn, &row, &shop, None)
            })
            .await?;
        Ok(HttpResponse::Ok().json(cart))
    }

    /// Changes the cart in one write transaction, held first (a concurrent change or
    /// checkout of it waits), and answers it priced as the change left it. 404 when it is
    /// not the caller's; `change`'s error rolls everything back.
    pub async fn change<F>(self, db: &Db, shop: &Shop, change: F) -> Result<HttpResponse, ApiError>
    where
        F: FnOnce(&mut DbConnection, &CartRow) -> Result<(), ApiError> + Send + 'static,
    {
        let shop = shop.clone();
        let cart = db
            .run(move |conn| {
                crate::db::write_transaction(conn, |conn| {
                    let cart = self.access.find_held(conn, &self.id)?;
                    change(conn, &cart)?;
                    view(conn, &cart, &shop, None)
                })
            })
            .await?;
        Ok(HttpResponse::Ok().json(cart))
    }
}
