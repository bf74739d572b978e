//! dynoxide's own HTTP server, with none of podiam's checks: the engine
//! podiam embeds, as a separate process that replicas share as their
//! DynamoDB backend in the tests (`serve --dynamodb-backend URL`).
//!
//! `dynoxide_server DB_PATH` listens on a free loopback port, prints
//! `listening on http://ADDR` and serves until killed.

use std::net::SocketAddr;

#[tokio::main]
async fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: dynoxide_server DB_PATH");
        std::process::exit(2);
    };
    let db = dynoxide::Database::new(&path).unwrap_or_else(|e| {
        eprintln!("opening {path}: {e}");
        std::process::exit(1);
    });
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap_or_else(|e| {
            eprintln!("binding 127.0.0.1:0: {e}");
            std::process::exit(1);
        });
    let addr = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    println!("listening on http://{addr}");
    dynoxide::server::serve_on(listener, db).await;
}
