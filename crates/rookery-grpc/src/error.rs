//! Errors of HTTP/2 and of the socket, as the statuses the gRPC spec maps them to.

use std::error::Error;

use rookery_core::{Code, Status};

/// The status for an error of hyper, h2 or the socket, found by walking its sources: a
/// status is kept, an HTTP/2 `RST_STREAM` or `GOAWAY` code is mapped as the gRPC spec says,
/// I/O errors become `UNAVAILABLE`, anything else `INTERNAL`.
pub(crate) fn status_of(e: &(dyn Error + 'static)) -> Status {
    let mut next: Option<&(dyn Error + 'static)> = Some(e);
    while let Some(err) = next {
        if let Some(status) = err.downcast_ref::<Status>() {
            return status.clone();
        }
        if let Some(h2) = err.downcast_ref::<h2::Error>() {
            if let Some(reason) = h2.reason() {
                return Status::new(code_of_reason(reason), format!("HTTP/2: {h2}"));
            }
            if h2.is_io() {
                return Status::unavailable(format!("connection: {h2}"));
            }
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            return Status::unavailable(format!("connection: {io}"));
        }
        if let Some(hyper) = err.downcast_ref::<hyper::Error>()
            && (hyper.is_canceled() || hyper.is_closed())
        {
            return Status::unavailable(format!("connection: {hyper}"));
        }
        next = err.source();
    }
    Status::internal(e.to_string())
}

/// The gRPC code of an HTTP/2 error code received in `RST_STREAM`.
fn code_of_reason(reason: h2::Reason) -> Code {
    match reason {
        h2::Reason::REFUSED_STREAM => Code::Unavailable,
        h2::Reason::CANCEL => Code::Cancelled,
        h2::Reason::ENHANCE_YOUR_CALM => Code::ResourceExhausted,
        h2::Reason::INADEQUATE_SECURITY => Code::PermissionDenied,
        _ => Code::Internal,
    }
}
