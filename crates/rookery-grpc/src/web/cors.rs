//! Cross-origin resource sharing for gRPC-Web: which pages may call, with which headers, and
//! which response headers their scripts may read.

use std::time::Duration;

use http::{
    HeaderMap, HeaderName, HeaderValue, Method, Response, StatusCode,
    header::{
        ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
        ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE, ACCESS_CONTROL_REQUEST_HEADERS,
        ALLOW, ORIGIN, VARY,
    },
};

/// The request headers a gRPC-Web client sends, always allowed.
const DEFAULT_ALLOW_HEADERS: &[&str] = &[
    "content-type",
    "x-grpc-web",
    "x-user-agent",
    "grpc-timeout",
    "grpc-accept-encoding",
    "grpc-encoding",
];

/// The response headers that carry a call's status and encoding, always exposed.
const DEFAULT_EXPOSE_HEADERS: &[&str] = &[
    "grpc-status",
    "grpc-message",
    "grpc-status-details-bin",
    "grpc-encoding",
    "grpc-accept-encoding",
];

/// How long a browser may keep the answer to a preflight unless told otherwise: a day.
const DEFAULT_MAX_AGE: Duration = Duration::from_secs(24 * 60 * 60);

/// The CORS rules of gRPC-Web calls: the origins whose pages may call (any, or a list), the
/// request headers they may send beyond gRPC-Web's own (`content-type`, `x-grpc-web`,
/// `x-user-agent`, `grpc-timeout`, `grpc-accept-encoding`, `grpc-encoding`), the response
/// headers their scripts may read beyond the status (`grpc-status`, `grpc-message`,
/// `grpc-status-details-bin`, `grpc-encoding`, `grpc-accept-encoding`), and how long a
/// browser keeps the answer to a preflight (a day unless set).
///
/// A call from an origin that is not allowed is answered `403 Forbidden`, its preflight
/// included; a request without `Origin` (not from a browser) is served.
///
/// ```
/// use rookery_grpc::web::Cors;
/// use http::HeaderName;
///
/// let cors = Cors::allow_origins(["https://app.example.com"])
///     .allow_header(HeaderName::from_static("authorization"))
///     .expose_header(HeaderName::from_static("x-request-id"))
///     .max_age(std::time::Duration::from_secs(600));
/// # let _ = cors;
/// ```
#[derive(Clone, Debug)]
pub struct Cors {
    origins: Option<Vec<HeaderValue>>,
    allow_headers: Vec<HeaderName>,
    any_header: bool,
    expose_headers: Vec<HeaderName>,
    max_age: Duration,
}

impl Default for Cors {
    fn default() -> Cors {
        Cors::any_origin()
    }
}

impl Cors {
    /// Calls from pages of any origin (`access-control-allow-origin: *`).
    pub fn any_origin() -> Cors {
        Cors {
            origins: None,
            allow_headers: DEFAULT_ALLOW_HEADERS
                .iter()
                .map(|h| HeaderName::from_static(h))
                .collect(),
            any_header: false,
            expose_headers: DEFAULT_EXPOSE_HEADERS
                .iter()
                .map(|h| HeaderName::from_static(h))
                .collect(),
            max_age: DEFAULT_MAX_AGE,
        }
    }

    /// Calls from pages of these origins only (`https://app.example.com`, scheme, host and
    /// port as browsers send them in `Origin`), each answered with its own origin. Origins
    /// that cannot be header values are left out, since no browser could send them.
    pub fn allow_origins<I, S>(origins: I) -> Cors
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Cors {
            origins: Some(
                origins
                    .into_iter()
                    .filter_map(|o| HeaderValue::from_str(o.as_ref()).ok())
                    .collect(),
            ),
            ..Cors::any_origin()
        }
    }

    /// Allows pages to send `name` too: a custom metadata key, or `authorization`.
    pub fn allow_header(mut self, name: HeaderName) -> Cors {
        if !self.allow_headers.contains(&name) {
            self.allow_headers.push(name);
        }
        self
    }

    /// Allows pages to send any header they ask for in a preflight, whatever its name.
    pub fn allow_any_header(mut self) -> Cors {
        self.any_header = true;
        self
    }

    /// Lets scripts read the response header (or trailer) `name` too: a custom metadata key.
    pub fn expose_header(mut self, name: HeaderName) -> Cors {
        if !self.expose_headers.contains(&name) {
            self.expose_headers.push(name);
        }
        self
    }

    /// How long a browser may cache the answer to a preflight (`access-control-max-age`).
    pub fn max_age(mut self, max_age: Duration) -> Cors {
        self.max_age = max_age;
        self
    }

    /// The origin a request from `origin` may be answered with: `Ok(None)` for a request
    /// without `Origin`, `Err(())` for an origin that is not allowed.
    fn check(&self, origin: Option<&HeaderValue>) -> Result<Option<HeaderValue>, ()> {
        let Some(origin) = origin else {
            return Ok(None);
        };
        match &self.origins {
            None => Ok(Some(HeaderValue::from_static("*"))),
            Some(allowed) if allowed.iter().any(|a| a == origin) => Ok(Some(origin.clone())),
            Some(_) => Err(()),
        }
    }

    /// Whether a call from `origin` (its `Origin` header) may be served.
    pub(crate) fn allows(&self, origin: Option<&HeaderValue>) -> bool {
        self.check(origin).is_ok()
    }

    /// Adds to `response` what lets the page of `origin` read it, or refuses the call:
    /// `Err(403 Forbidden)` when its origin is not allowed.
    pub(crate) fn allow<B>(
        &self,
        origin: Option<&HeaderValue>,
        response: &mut Response<B>,
    ) -> Result<(), StatusCode> {
        let origin = self.check(origin).map_err(|()| {
            tracing::debug!(?origin, "a gRPC-Web call from an origin not allowed");
            StatusCode::FORBIDDEN
        })?;
        let headers = response.headers_mut();
        if self.origins.is_some() {
            headers.append(VARY, HeaderValue::from_static("origin"));
        }
        if let Some(origin) = origin {
            headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            if let Some(exposed) = join(&self.expose_headers) {
                headers.insert(ACCESS_CONTROL_EXPOSE_HEADERS, exposed);
            }
        }
        Ok(())
    }

    /// The answer to a preflight (`OPTIONS`): what a page of an allowed origin may send, or
    /// `403 Forbidden`.
    pub(crate) fn preflight<B: Default>(&self, request_headers: &HeaderMap) -> Response<B> {
        let mut response = Response::new(B::default());
        *response.status_mut() = StatusCode::NO_CONTENT;
        if let Err(code) = self.allow(request_headers.get(ORIGIN), &mut response) {
            *response.status_mut() = code;
            return response;
        }
        let headers = response.headers_mut();
        headers.insert(ALLOW, HeaderValue::from_static("POST, OPTIONS"));
        if !headers.contains_key(ACCESS_CONTROL_ALLOW_ORIGIN) {
            // Not from a browser: nothing more to say.
            return response;
        }
        headers.remove(ACCESS_CONTROL_EXPOSE_HEADERS);
        headers.insert(
            ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(Method::POST.as_str()),
        );
        let asked = request_headers.get(ACCESS_CONTROL_REQUEST_HEADERS);
        let allowed = match asked {
            Some(asked) if self.any_header => Some(asked.clone()),
            _ => join(&self.allow_headers),
        };
        if let Some(allowed) = allowed {
            headers.insert(ACCESS_CONTROL_ALLOW_HEADERS, allowed);
        }
        if self.any_header {
            headers.append(
                VARY,
                HeaderValue::from_static("access-control-request-headers"),
            );
        }
        headers.insert(
            ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from(self.max_age.as_secs()),
        );
        response
    }
}

/// `names` as one comma-separated header value.
fn join(names: &[HeaderName]) -> Option<HeaderValue> {
    let joined = names
        .iter()
        .map(HeaderName::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    HeaderValue::try_from(joined).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn preflight(cors: &Cors, origin: Option<&'static str>, asked: &'static str) -> Response<()> {
        let mut headers = HeaderMap::new();
        if let Some(origin) = origin {
            headers.insert(ORIGIN, HeaderValue::from_static(origin));
        }
        headers.insert(
            ACCESS_CONTROL_REQUEST_HEADERS,
            HeaderValue::from_static(asked),
        );
        cors.preflight(&headers)
    }

    #[test]
    fn a_listed_origin_is_answered_with_itself_and_others_are_refused() {
        let cors = Cors::allow_origins(["https://a.example", "https://b.example"]);
        let ok = preflight(&cors, Some("https://b.example"), "content-type");
        assert_eq!(ok.status(), StatusCode::NO_CONTENT);
        assert_eq!(
            ok.headers()[ACCESS_CONTROL_ALLOW_ORIGIN],
            "https://b.example"
        );
        assert_eq!(ok.headers()[VARY], "origin");
        let refused = preflight(&cors, Some("https://c.example"), "content-type");
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        assert!(!refused.headers().contains_key(ACCESS_CONTROL_ALLOW_ORIGIN));
    }

    #[test]
    fn headers_allowed_are_the_defaults_and_those_added_or_whatever_is_asked() {
        let cors = Cors::any_origin().allow_header(HeaderName::from_static("x-custom"));
        let response = preflight(&cors, Some("https://a.example"), "x-other");
        let allowed = response.headers()[ACCESS_CONTROL_ALLOW_HEADERS]
            .to_str()
            .unwrap();
        assert!(allowed.starts_with("content-type, x-grpc-web, x-user-agent, grpc-timeout"));
        assert!(allowed.ends_with(", x-custom"), "{allowed}");
        assert_eq!(response.headers()[ACCESS_CONTROL_ALLOW_ORIGIN], "*");
        assert_eq!(response.headers()[ACCESS_CONTROL_MAX_AGE], "86400");

        let any = Cors::any_origin().allow_any_header();
        let response = preflight(&any, Some("https://a.example"), "x-other, x-more");
        assert_eq!(
            response.headers()[ACCESS_CONTROL_ALLOW_HEADERS],
            "x-other, x-more"
        );
    }

    #[test]
    fn a_request_without_origin_is_served_without_cors_headers() {
        let cors = Cors::allow_origins(["https://a.example"]);
        let response = preflight(&cors, None, "content-type");
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        assert!(!response.headers().contains_key(ACCESS_CONTROL_ALLOW_ORIGIN));
        let mut response = Response::new(());
        assert!(cors.allow(None, &mut response).is_ok());
    }
}
