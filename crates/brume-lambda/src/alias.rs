//! (being written)

use brume_protocol::ServiceBuilder;

use crate::Lambda;

pub(crate) fn ops(builder: ServiceBuilder<Lambda>) -> ServiceBuilder<Lambda> {
    builder
}
