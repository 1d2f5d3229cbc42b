//! HAR reader (stub).
use super::*;
pub fn read_har<R: Read>(_path: &Path, _r: R, _sink: &mut dyn FnMut(Exchange)) -> Result<IngestStats, IngestError> { todo!() }
