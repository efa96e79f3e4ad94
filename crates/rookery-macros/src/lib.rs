//! The `#[rookery::service]` attribute: a plain Rust trait becomes a rookery service, with
//! a server and a client generated from it and a serde codec, no IDL.
//!
//! Use it through the `rookery` crate, as `#[rookery::service]`: the code it generates
//! names `rookery`'s support module, and `rookery::rpc` documents what the attribute
//! accepts, what it generates and what travels on the wire.
//!
//! ```ignore
//! #[rookery::service]
//! pub trait Greeter {
//!     async fn hello(&self, cx: &mut Context, name: String) -> Result<String, Status>;
//!     #[oneway]
//!     async fn wave(&self, times: u8);
//! }
//! // generates `trait Greeter` (with `Send` futures), `GreeterServer<H>`, `GreeterClient<S>`
//! ```

mod expand;
mod model;

use proc_macro::TokenStream;
use quote::ToTokens;
use syn::ItemTrait;

/// Makes a trait a rookery service; see `rookery::rpc` for the rules and what is generated.
///
/// Arguments: `name = "..."`, the service's name in routers and on the wire (the trait's name
/// by default); `crate = "..."`, the path of the `rookery` crate when it is renamed
/// (`::rookery` by default).
#[proc_macro_attribute]
pub fn service(attr: TokenStream, item: TokenStream) -> TokenStream {
    let options = match model::Options::parse(attr.into()) {
        Ok(options) => options,
        Err(e) => {
            let mut out = e.to_compile_error();
            out.extend(proc_macro2::TokenStream::from(item));
            return out.into();
        }
    };
    let mut item: ItemTrait = match syn::parse(item) {
        Ok(item) => item,
        Err(e) => {
            let mut err = syn::Error::new(
                e.span(),
                "`#[rookery::service]` goes on a trait: `#[rookery::service] trait Greeter { .. }`",
            );
            err.combine(e);
            return err.to_compile_error().into();
        }
    };
    match model::Service::check(&mut item, &options) {
        Ok(service) => {
            let krate = options
                .krate
                .unwrap_or_else(|| syn::parse_quote!(::rookery));
            expand::expand(&service, &krate).into()
        }
        Err(e) => {
            // The trait as written (without `#[oneway]`), so its uses do not add errors to
            // the ones that matter.
            let mut out = e.to_compile_error();
            item.to_tokens(&mut out);
            out.into()
        }
    }
}
