//! CORS for browsers calling `rmicro serve` over Connect and gRPC-Web from another
//! origin (`--cors-origin ORIGIN`, repeatable, `*` for any): the answer to a preflight
//! `OPTIONS`, and the headers every reply to an allowed origin carries, exposing the
//! status headers gRPC-Web and Connect clients read.

/// Headers a browser's script may read from a reply (beyond the CORS-safelisted ones).
const EXPOSED: &str = "Grpc-Status, Grpc-Message, Grpc-Status-Details-Bin, Grpc-Encoding, Connect-Content-Encoding, Content-Encoding";
/// Methods a preflight allows: Connect's unary form and streams and gRPC-Web post, and
/// Connect's side-effect-free calls may GET.
const METHODS: &str = "POST, GET";
/// How long a browser may cache a preflight's answer, in seconds (Chromium caps it at
/// 7200).
const MAX_AGE: &str = "7200";

/// The origins allowed to call; none by default (no CORS headers at all).
#[derive(Clone, Debug, Default)]
pub struct Cors {
    origins: Vec<String>,
}

/// What to answer a preflight.
pub struct Preflight {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
}

impl Cors {
    /// `origins` as given to `--cors-origin`: `scheme://host[:port]` or `*`.
    pub fn new(origins: Vec<String>) -> Cors {
        Cors {
            origins: origins
                .into_iter()
                .map(|origin| origin.trim_end_matches('/').to_owned())
                .collect(),
        }
    }

    pub fn is_enabled(&self) -> bool {
        !self.origins.is_empty()
    }

    /// The `Access-Control-Allow-Origin` value for a request from `origin`, if allowed.
    fn allowed(&self, origin: &str) -> Option<String> {
        if self.origins.iter().any(|allowed| allowed == "*") {
            Some("*".into())
        } else {
            self.origins
                .iter()
                .any(|allowed| allowed.eq_ignore_ascii_case(origin))
                .then(|| origin.to_owned())
        }
    }

    /// Whether a request is a CORS preflight: `OPTIONS` with `Origin` and
    /// `Access-Control-Request-Method`.
    pub fn is_preflight<'a>(method: &str, header: impl Fn(&str) -> Option<&'a str>) -> bool {
        method == "OPTIONS"
            && header("origin").is_some()
            && header("access-control-request-method").is_some()
    }

    /// The answer to a preflight (`header` looks a request header up by name): 204 with
    /// what the browser asked for when its origin is allowed, else 403.
    pub fn preflight<'a>(&self, header: impl Fn(&str) -> Option<&'a str>) -> Preflight {
        let origin = header("origin").unwrap_or("");
        let Some(allowed) = self.allowed(origin) else {
            return Preflight {
                status: 403,
                headers: vec![("Vary", "Origin".into())],
            };
        };
        let mut headers = vec![
            ("Access-Control-Allow-Origin", allowed),
            ("Access-Control-Allow-Methods", METHODS.into()),
            ("Access-Control-Max-Age", MAX_AGE.into()),
            (
                "Vary",
                "Origin, Access-Control-Request-Method, Access-Control-Request-Headers".into(),
            ),
        ];
        // Any request header: metadata is the caller's own.
        if let Some(requested) = header("access-control-request-headers") {
            headers.push(("Access-Control-Allow-Headers", requested.to_owned()));
        }
        Preflight {
            status: 204,
            headers,
        }
    }

    /// The CORS headers of a reply to a request from `origin` (none when it sent no
    /// `Origin`, or is not allowed: the browser then withholds the reply from the page).
    pub fn reply_headers(&self, origin: Option<&str>) -> Vec<(&'static str, String)> {
        let Some(allowed) = origin.and_then(|origin| self.allowed(origin)) else {
            return Vec::new();
        };
        let mut headers = vec![
            ("Access-Control-Allow-Origin", allowed.clone()),
            ("Access-Control-Expose-Headers", EXPOSED.into()),
        ];
        if allowed != "*" {
            headers.push(("Vary", "Origin".into()));
        }
        headers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<&'a str> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(name))
                .map(|(_, value)| *value)
        }
    }

    #[test]
    fn listed_origins_are_echoed_and_others_refused() {
        let cors = Cors::new(vec!["http://127.0.0.1:3000/".into()]);
        let asked = [
            ("Origin", "http://127.0.0.1:3000"),
            ("Access-Control-Request-Method", "POST"),
            ("Access-Control-Request-Headers", "content-type,x-grpc-web"),
        ];
        assert!(Cors::is_preflight("OPTIONS", headers(&asked)));
        let answer = cors.preflight(headers(&asked));
        assert_eq!(answer.status, 204);
        assert!(answer.headers.contains(&(
            "Access-Control-Allow-Origin",
            "http://127.0.0.1:3000".into()
        )));
        assert!(answer.headers.contains(&(
            "Access-Control-Allow-Headers",
            "content-type,x-grpc-web".into()
        )));
        let other = [
            ("Origin", "http://evil.example"),
            ("Access-Control-Request-Method", "POST"),
        ];
        assert_eq!(cors.preflight(headers(&other)).status, 403);
        assert!(cors.reply_headers(Some("http://evil.example")).is_empty());
        assert!(cors.reply_headers(None).is_empty());
        assert_eq!(cors.reply_headers(Some("http://127.0.0.1:3000")).len(), 3);
    }

    #[test]
    fn a_star_allows_every_origin() {
        let cors = Cors::new(vec!["*".into()]);
        let reply = cors.reply_headers(Some("http://anything:1"));
        assert_eq!(reply[0], ("Access-Control-Allow-Origin", "*".into()));
        assert!(reply[1].1.contains("Grpc-Status"));
        assert!(!Cors::is_preflight("POST", headers(&[])));
    }
}
