//! The simulated API endpoints by name: the unit that counters, the request log and fault rules
//! talk about.

use axum::http::Method;

/// Which external service an endpoint belongs to; decides the error body shape and which
/// header identifies the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Service {
    Tlm,
    CertSpotter,
    CertCentral,
    Qualys,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    Profiles,
    Profile,
    Submit,
    Status,
    Formats,
    Pickup,
    Search,
    Renew,
    Revoke,
    Hello,
    Issuances,
    Ctmonitor,
    /// Qualys CertView (`crate::qualys`).
    QualysAuth,
    QualysEnroll,
    QualysView,
    QualysStatus,
    QualysDownload,
    /// CertCentral Services API orders (`crate::certcentral_orders`).
    CcOrder,
    CcOrderInfo,
    CcOrders,
    CcNote,
    CcDownload,
    CcReissue,
    CcRevoke,
}

impl Endpoint {
    /// Every endpoint a fault rule may name (`hello` is the side-effect-free liveness probe and
    /// is deliberately left out).
    pub const FAULTABLE: [Endpoint; 23] = [
        Endpoint::Profiles,
        Endpoint::Profile,
        Endpoint::Submit,
        Endpoint::Status,
        Endpoint::Formats,
        Endpoint::Pickup,
        Endpoint::Search,
        Endpoint::Renew,
        Endpoint::Revoke,
        Endpoint::Issuances,
        Endpoint::Ctmonitor,
        Endpoint::QualysAuth,
        Endpoint::QualysEnroll,
        Endpoint::QualysView,
        Endpoint::QualysStatus,
        Endpoint::QualysDownload,
        Endpoint::CcOrder,
        Endpoint::CcOrderInfo,
        Endpoint::CcOrders,
        Endpoint::CcNote,
        Endpoint::CcDownload,
        Endpoint::CcReissue,
        Endpoint::CcRevoke,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Endpoint::Profiles => "profiles",
            Endpoint::Profile => "profile",
            Endpoint::Submit => "submit",
            Endpoint::Status => "status",
            Endpoint::Formats => "formats",
            Endpoint::Pickup => "pickup",
            Endpoint::Search => "search",
            Endpoint::Renew => "renew",
            Endpoint::Revoke => "revoke",
            Endpoint::Hello => "hello",
            Endpoint::Issuances => "issuances",
            Endpoint::Ctmonitor => "ctmonitor",
            Endpoint::QualysAuth => "qualys_auth",
            Endpoint::QualysEnroll => "qualys_enroll",
            Endpoint::QualysView => "qualys_view",
            Endpoint::QualysStatus => "qualys_status",
            Endpoint::QualysDownload => "qualys_download",
            Endpoint::CcOrder => "cc_order",
            Endpoint::CcOrderInfo => "cc_order_info",
            Endpoint::CcOrders => "cc_orders",
            Endpoint::CcNote => "cc_note",
            Endpoint::CcDownload => "cc_download",
            Endpoint::CcReissue => "cc_reissue",
            Endpoint::CcRevoke => "cc_revoke",
        }
    }

    pub fn service(self) -> Service {
        match self {
            Endpoint::Issuances => Service::CertSpotter,
            Endpoint::QualysAuth
            | Endpoint::QualysEnroll
            | Endpoint::QualysView
            | Endpoint::QualysStatus
            | Endpoint::QualysDownload => Service::Qualys,
            Endpoint::Ctmonitor
            | Endpoint::CcOrder
            | Endpoint::CcOrderInfo
            | Endpoint::CcOrders
            | Endpoint::CcNote
            | Endpoint::CcDownload
            | Endpoint::CcReissue
            | Endpoint::CcRevoke => Service::CertCentral,
            _ => Service::Tlm,
        }
    }

    /// Maps a request to the endpoint the router will dispatch it to, or `None` for admin
    /// routes, unknown paths and wrong methods (those are neither counted nor faulted).
    pub fn classify(method: &Method, path: &str) -> Option<Endpoint> {
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        if let Some(endpoint) = crate::qualys::classify(method, &segments) {
            return Some(endpoint);
        }
        if let Some(endpoint) = crate::certcentral_orders::classify(method, &segments) {
            return Some(endpoint);
        }
        let endpoint = match segments.as_slice() {
            ["mpki", "api", "v2", "profile"] => Endpoint::Profiles,
            ["mpki", "api", "v2", "profile", id] if !id.is_empty() => Endpoint::Profile,
            ["mpki", "api", "v1", "hello"] => Endpoint::Hello,
            ["mpki", "api", "v1", "certificate"] => Endpoint::Submit,
            ["mpki", "api", "v1", "certificate-search"] => Endpoint::Search,
            ["mpki", "api", "v1", "certificate-pickup", id] if !id.is_empty() => Endpoint::Pickup,
            ["mpki", "api", "v1", "certificate", serial] if !serial.is_empty() => Endpoint::Status,
            ["mpki", "api", "v1", "certificate", serial, "additional-formats"] if !serial.is_empty() => {
                Endpoint::Formats
            }
            ["mpki", "api", "v1", "certificate", serial, "renew"] if !serial.is_empty() => Endpoint::Renew,
            ["mpki", "api", "v1", "certificate", serial, "revoke"] if !serial.is_empty() => Endpoint::Revoke,
            ["v1", "issuances"] => Endpoint::Issuances,
            ["services", "v2", "ctmonitor", order, "ct-cert", serial]
            | ["services", "v2", "ctmonitor", order, "ct-cert", serial, ""]
                if !order.is_empty() && !serial.is_empty() =>
            {
                Endpoint::Ctmonitor
            }
            _ => return None,
        };
        (*method == endpoint.method()).then_some(endpoint)
    }

    fn method(self) -> Method {
        match self {
            Endpoint::Submit | Endpoint::Pickup | Endpoint::Renew => Method::POST,
            Endpoint::Revoke => Method::PUT,
            _ => Method::GET,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_every_route() {
        let cases = [
            (Method::GET, "/mpki/api/v2/profile", Some(Endpoint::Profiles)),
            (
                Method::GET,
                "/mpki/api/v2/profile/prof-x509",
                Some(Endpoint::Profile),
            ),
            (Method::GET, "/mpki/api/v2/profile/", None),
            (Method::POST, "/mpki/api/v1/certificate", Some(Endpoint::Submit)),
            (
                Method::GET,
                "/mpki/api/v1/certificate/AB12",
                Some(Endpoint::Status),
            ),
            (
                Method::GET,
                "/mpki/api/v1/certificate/AB12/additional-formats",
                Some(Endpoint::Formats),
            ),
            (
                Method::POST,
                "/mpki/api/v1/certificate/AB12/renew",
                Some(Endpoint::Renew),
            ),
            (
                Method::PUT,
                "/mpki/api/v1/certificate/AB12/revoke",
                Some(Endpoint::Revoke),
            ),
            (
                Method::POST,
                "/mpki/api/v1/certificate-pickup/r1",
                Some(Endpoint::Pickup),
            ),
            (
                Method::GET,
                "/mpki/api/v1/certificate-search",
                Some(Endpoint::Search),
            ),
            (Method::GET, "/mpki/api/v1/hello", Some(Endpoint::Hello)),
            (Method::GET, "/v1/issuances", Some(Endpoint::Issuances)),
            (
                Method::GET,
                "/services/v2/ctmonitor/1/ct-cert/AB/",
                Some(Endpoint::Ctmonitor),
            ),
            (
                Method::GET,
                "/services/v2/ctmonitor/1/ct-cert/AB",
                Some(Endpoint::Ctmonitor),
            ),
            (Method::GET, "/mpki/api/v1/certificate", None),
            (Method::DELETE, "/mpki/api/v1/certificate/AB12", None),
            (Method::GET, "/sim/counters", None),
            (Method::GET, "/mpki/api/v1/certificate/", None),
        ];
        for (method, path, expected) in cases {
            assert_eq!(Endpoint::classify(&method, path), expected, "{method} {path}");
        }
    }
}
