use rookery_core::Layer;

use super::Recover;

/// Wraps a service in [`Recover`]. It has nothing to configure: a panic is always answered
/// `INTERNAL` and logged.
#[derive(Clone, Copy, Debug, Default)]
pub struct RecoverLayer;

impl RecoverLayer {
    /// The layer.
    pub fn new() -> Self {
        RecoverLayer
    }
}

impl<S> Layer<S> for RecoverLayer {
    type Service = Recover<S>;

    fn layer(&self, inner: S) -> Recover<S> {
        Recover::new(inner)
    }
}
