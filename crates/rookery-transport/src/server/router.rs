use std::{collections::HashMap, future::Future};

use faststr::FastStr;
use rookery_core::{BoxService, Context, Service, Status};

use crate::{ThriftRequest, ThriftResponse};

/// A service with a name and a set of methods, as generated from an IDL `service`: what a
/// [`Router`] routes to.
pub trait NamedService: Service<ThriftRequest, Response = ThriftResponse> + 'static {
    /// The service's name in its IDL (`Echo`).
    const NAME: &'static str;
    /// The methods it serves.
    const METHODS: &'static [&'static str];
}

/// The IDL service a call names, when the caller named one: Apache Thrift's multiplexed
/// protocol prefixes methods with `Service:`, Kitex sends the `isn` header. Routers prefer it
/// to the method name alone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdlService(pub FastStr);

/// Routes calls to services by service and method, so one server serves several services.
///
/// A call that names its service (see [`IdlService`]) goes to that service; otherwise it goes
/// to the service that has the method. When two services share a method name, a call that does
/// not name its service goes to the one added first.
#[derive(Clone, Debug, Default)]
pub struct Router {
    services: Vec<(&'static str, BoxService<ThriftRequest, ThriftResponse>)>,
    by_name: HashMap<&'static str, usize>,
    by_method: HashMap<&'static str, usize>,
}

impl Router {
    /// An empty router.
    pub fn new() -> Self {
        Router::default()
    }

    /// Adds a service.
    ///
    /// # Panics
    ///
    /// If a service of the same name was added already: that is a programming error.
    pub fn add_service<S: NamedService>(self, service: S) -> Self {
        self.add_service_named(S::NAME, S::METHODS, service)
    }

    /// Adds a service under an explicit name and method list (for services wrapped in layers,
    /// whose type no longer says its name).
    ///
    /// # Panics
    ///
    /// If a service of the same name was added already.
    pub fn add_service_named<S>(
        mut self,
        name: &'static str,
        methods: &[&'static str],
        service: S,
    ) -> Self
    where
        S: Service<ThriftRequest, Response = ThriftResponse> + 'static,
    {
        assert!(
            !self.by_name.contains_key(name),
            "service {name} added to the router twice"
        );
        let index = self.services.len();
        self.services.push((name, BoxService::new(service)));
        self.by_name.insert(name, index);
        for method in methods {
            if let Some(&other) = self.by_method.get(method) {
                tracing::warn!(
                    method,
                    first = self.services[other].0,
                    second = name,
                    "two services have this method; calls that do not name their service go to the first"
                );
            } else {
                self.by_method.insert(method, index);
            }
        }
        self
    }

    /// The names of the services, in the order they were added.
    pub fn service_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.services.iter().map(|(name, _)| *name)
    }

    /// Whether no service was added.
    pub fn is_empty(&self) -> bool {
        self.services.is_empty()
    }

    fn route(&self, cx: &Context, method: &str) -> Result<usize, Status> {
        if let Some(IdlService(name)) = cx.extensions().get::<IdlService>() {
            return self
                .by_name
                .get(&**name)
                .copied()
                .ok_or_else(|| Status::unimplemented(format!("unknown service {name}")));
        }
        if self.services.len() == 1 {
            return Ok(0);
        }
        self.by_method
            .get(method)
            .copied()
            .ok_or_else(|| Status::unimplemented(format!("unknown method {method}")))
    }
}

impl Service<ThriftRequest> for Router {
    type Response = ThriftResponse;

    fn call(
        &self,
        cx: &mut Context,
        req: ThriftRequest,
    ) -> impl Future<Output = Result<ThriftResponse, Status>> + Send {
        let routed = self.route(cx, &req.method);
        async move {
            let index = routed?;
            self.services[index].1.call(cx, req).await
        }
    }
}
