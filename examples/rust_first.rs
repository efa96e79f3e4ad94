//! A Rust-first service: no IDL, only a trait marked `#[rookery::service]`. The macro writes
//! its server and its client; arguments and results travel in serde (postcard by default,
//! JSON on request).
//!
//! ```text
//! cargo run --example rust_first
//! ```
//!
//! Two instances of `library` start and register in the registry `ROOKERY_REGISTRY` names
//! (the embedded one of this process when it is not set); a client finds them by name and
//! calls every kind of method: plain, with a declared error, oneway, in both codecs.

use std::{
    collections::BTreeMap,
    process::ExitCode,
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

use rookery::{
    Context, Protocol, Status,
    rpc::{Codec, MethodError},
};
use serde::{Deserialize, Serialize};

/// A book, as it travels.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Book {
    /// The title.
    pub title: String,
    /// The author.
    pub author: String,
    /// The year it came out.
    pub year: u16,
}

/// Why a loan is refused: the error `lend` declares, which callers match on.
#[derive(Debug, Serialize, Deserialize)]
pub enum LoanError {
    /// No book has that title.
    NoSuchBook(String),
    /// Every copy is out; one comes back in `days`.
    AllOut {
        /// When a copy is due back.
        days: u32,
    },
}

/// A lending library. This trait is the whole contract: there is no IDL.
#[rookery::service(name = "library")]
pub trait Library {
    /// The books by `author`, oldest first.
    async fn by_author(&self, author: String) -> Result<Vec<Book>, Status>;

    /// Adds a book; returns how many copies there are now. Takes the context to see who
    /// asks.
    async fn donate(&self, cx: &mut Context, book: Book, copies: u32) -> Result<u32, Status>;

    /// Lends a copy of `title`: the copies left, or why not.
    async fn lend(&self, title: String) -> Result<u32, MethodError<LoanError>>;

    /// Counts a visit. Oneway: the caller does not wait for an answer.
    #[oneway]
    async fn visit(&self, who: String);

    /// How many visits were counted.
    async fn visits(&self) -> Result<u64, Status>;
}

/// The handler: books by title, with the copies on the shelf.
#[derive(Default)]
struct Shelves {
    books: Mutex<BTreeMap<String, (Book, u32)>>,
    visits: AtomicU64,
}

impl Library for Shelves {
    async fn by_author(&self, author: String) -> Result<Vec<Book>, Status> {
        let books = self.books.lock().unwrap();
        let mut found: Vec<Book> = books
            .values()
            .filter(|(b, _)| b.author == author)
            .map(|(b, _)| b.clone())
            .collect();
        found.sort_by_key(|b| b.year);
        Ok(found)
    }

    async fn donate(&self, cx: &mut Context, book: Book, copies: u32) -> Result<u32, Status> {
        if copies == 0 {
            return Err(Status::invalid_argument("a donation has at least one copy"));
        }
        let donor = cx.metadata().get("donor").unwrap_or("someone").to_string();
        println!("  [server] {donor} donates {copies} × {:?}", book.title);
        let mut books = self.books.lock().unwrap();
        let entry = books.entry(book.title.clone()).or_insert((book, 0));
        entry.1 += copies;
        Ok(entry.1)
    }

    async fn lend(&self, title: String) -> Result<u32, MethodError<LoanError>> {
        let mut books = self.books.lock().unwrap();
        match books.get_mut(&title) {
            None => Err(MethodError::Declared(LoanError::NoSuchBook(title))),
            Some((_, 0)) => Err(MethodError::Declared(LoanError::AllOut { days: 14 })),
            Some((_, copies)) => {
                *copies -= 1;
                Ok(*copies)
            }
        }
    }

    async fn visit(&self, who: String) {
        let n = self.visits.fetch_add(1, Ordering::Relaxed) + 1;
        println!("  [server] visit #{n} from {who}");
    }

    async fn visits(&self) -> Result<u64, Status> {
        Ok(self.visits.load(Ordering::Relaxed))
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    // Two instances, served like any IDL service, registered under `library`. They share one
    // handler, so the client sees one library whichever instance it reaches.
    let shelves = std::sync::Arc::new(Shelves::default());
    let mut instances = Vec::new();
    for _ in 0..2 {
        let running = rookery::Service::builder("library")
            .version("1.0.0")
            .serve(LibraryServer::from_arc(shelves.clone()))
            .build()?
            .start()
            .await?;
        println!("library listening on {}", running.local_addr());
        instances.push(running);
    }

    // A client by name: found in the registry, balanced over both instances.
    let balanced = rookery::connect("library").await?;
    println!(
        "found {} instance(s) of library\n",
        balanced.endpoints().len()
    );
    let library = LibraryClient::with_service(balanced.clone(), Protocol::Binary);

    let mut cx = Context::new();
    cx.metadata_mut().insert("donor", "ada");
    for (title, year, copies) in [
        ("The Dispossessed", 1974, 2),
        ("The Left Hand of Darkness", 1969, 1),
    ] {
        let book = Book {
            title: title.into(),
            author: "Ursula K. Le Guin".into(),
            year,
        };
        let now = library.donate(&mut cx, book, copies).await?;
        println!("donate {title:?} -> {now} copies");
    }
    let err = library
        .donate(
            &mut Context::new(),
            Book {
                title: "Nothing".into(),
                author: "Nobody".into(),
                year: 2000,
            },
            0,
        )
        .await
        .unwrap_err();
    println!("donate 0 copies -> status {err}");

    let books = library
        .by_author(&mut Context::new(), "Ursula K. Le Guin".into())
        .await?;
    for b in &books {
        println!("by_author -> {} ({})", b.title, b.year);
    }

    // A declared error is a value the caller matches on; a status is something else.
    for title in [
        "The Left Hand of Darkness",
        "The Left Hand of Darkness",
        "Dune",
    ] {
        match library.lend(&mut Context::new(), title.into()).await {
            Ok(left) => println!("lend {title:?} -> ok, {left} left"),
            Err(MethodError::Declared(LoanError::AllOut { days })) => {
                println!("lend {title:?} -> all out, back in {days} days")
            }
            Err(MethodError::Declared(LoanError::NoSuchBook(t))) => {
                println!("lend {title:?} -> no such book: {t}")
            }
            Err(MethodError::Status(status)) => return Err(status.into()),
        }
    }

    // Oneway calls return once sent.
    for who in ["ada", "grace", "barbara"] {
        library.visit(&mut Context::new(), who.into()).await?;
    }

    // The same service in JSON, from another client of the same instances.
    let json = LibraryClient::with_service(balanced, Protocol::Binary).with_codec(Codec::Json);
    let mut visits = 0;
    for _ in 0..100 {
        visits = json.visits(&mut Context::new()).await?;
        if visits == 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    println!("visits (asked in json) -> {visits}");

    for running in instances {
        running.stop().await?;
    }
    println!("\nboth instances stopped gracefully");
    if visits != 3 {
        return Err(format!("expected 3 visits, counted {visits}").into());
    }
    Ok(())
}
