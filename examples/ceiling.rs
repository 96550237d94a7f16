//! The framework ceiling for benchmarks: a bare actix-web server answering every GET with
//! the same JSON bytes (read once from a file), on the same machine and in the same run as
//! the real server, so ratios compare like with like.
//!
//! `cargo run --release --example ceiling -- 127.0.0.1:18081 body.json`

use actix_web::{web, App, HttpResponse, HttpServer};

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let bind = args.next().unwrap_or_else(|| "127.0.0.1:18081".into());
    let body = match args.next() {
        Some(path) => std::fs::read(path)?,
        None => b"{\"status\":\"ok\"}".to_vec(),
    };
    let body = web::Bytes::from(body);
    HttpServer::new(move || {
        let body = body.clone();
        App::new().default_service(web::to(move || {
            let body = body.clone();
            async move {
                HttpResponse::Ok()
                    .content_type("application/json")
                    .body(body)
            }
        }))
    })
    .bind(bind)?
    .run()
    .await
}
