//! Outbound HTTP as the core sees it: a [`Call`] out and an [`Answer`] back,
//! through [`Fetch`], which the glue implements with the runtime's `fetch` and
//! the tests with stand-ins. Every call has [`TIMEOUT_MS`]; the glue enforces it.

use std::future::Future;
use std::pin::Pin;

use crate::provider;

/// How long any one outbound call may take.
pub const TIMEOUT_MS: u64 = 5_000;

/// An outbound HTTP request.
#[derive(Debug)]
pub struct Call {
    pub post: bool,
    pub url: String,
    /// May hold a client secret or bearer token: never logged.
    pub headers: Vec<(&'static str, String)>,
    /// A form body, for POST.
    pub body: Option<String>,
}

/// What the other end answered.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

/// Why no answer came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchError {
    /// Nothing within [`TIMEOUT_MS`].
    TimedOut,
    /// The connection failed.
    Failed,
}

pub type Fetched<'a> = Pin<Box<dyn Future<Output = Result<Answer, FetchError>> + 'a>>;

/// Outbound HTTP with a [`TIMEOUT_MS`] bound.
pub trait Fetch {
    fn fetch(&self, call: Call) -> Fetched<'_>;
}

/// What the core needs to reach outside: providers, Login with Amazon and the
/// Alexa gateways.
#[derive(Clone, Copy)]
pub struct Outbound<'a> {
    pub fetch: &'a dyn Fetch,
    pub signatures: &'a dyn provider::Signatures,
    pub cache: &'a provider::ProviderCache,
}
