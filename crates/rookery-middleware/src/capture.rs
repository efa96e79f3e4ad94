//! Tests' view of what layers log: a `tracing` subscriber that keeps every event, with its
//! fields and those of the span it happened in.

use std::{
    collections::BTreeMap,
    fmt,
    sync::{Arc, Mutex},
};

use tracing::{
    Event, Level, Subscriber,
    field::{Field, Visit},
    span::{Attributes, Id},
};
use tracing_subscriber::{
    Layer,
    layer::{Context, SubscriberExt},
    registry::LookupSpan,
};

/// Fields by name, their values as text (strings without quotes).
pub(crate) type Fields = BTreeMap<String, String>;

/// One event.
#[derive(Clone, Debug)]
pub(crate) struct Captured {
    pub(crate) level: Level,
    pub(crate) target: String,
    pub(crate) fields: Fields,
    /// The fields of the span the event happened in (and of its parents, inner ones first).
    pub(crate) span: Fields,
}

/// The events seen while the guard of [`capture`] lives.
#[derive(Clone, Default)]
pub(crate) struct Events(Arc<Mutex<Vec<Captured>>>);

impl Events {
    pub(crate) fn take(&self) -> Vec<Captured> {
        std::mem::take(&mut self.0.lock().unwrap())
    }

    /// The events of `target`.
    pub(crate) fn of(&self, target: &str) -> Vec<Captured> {
        self.take()
            .into_iter()
            .filter(|e| e.target == target)
            .collect()
    }
}

/// Keeps the events of this thread until the guard is dropped.
pub(crate) fn capture() -> (Events, tracing::subscriber::DefaultGuard) {
    let events = Events::default();
    let subscriber = tracing_subscriber::registry().with(Keep(events.clone()));
    let guard = tracing::subscriber::set_default(subscriber);
    (events, guard)
}

struct Keep(Events);

/// The fields of a span, kept in its extensions.
struct SpanFields(Fields);

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Keep {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Fields::new();
        attrs.record(&mut Record(&mut fields));
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(SpanFields(fields));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = Fields::new();
        event.record(&mut Record(&mut fields));
        let mut span = Fields::new();
        if let Some(scope) = ctx.event_scope(event) {
            for s in scope {
                if let Some(SpanFields(f)) = s.extensions().get::<SpanFields>() {
                    for (k, v) in f {
                        span.entry(k.clone()).or_insert_with(|| v.clone());
                    }
                }
            }
        }
        self.0.0.lock().unwrap().push(Captured {
            level: *event.metadata().level(),
            target: event.metadata().target().to_string(),
            fields,
            span,
        });
    }
}

struct Record<'a>(&'a mut Fields);

impl Visit for Record<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), value.to_string());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().to_string(), format!("{value:?}"));
    }
}
