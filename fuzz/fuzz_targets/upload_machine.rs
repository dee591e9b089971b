//! The upload state machine against a simulated server whose every decision comes from the input; the
//! driver checks the invariants (offsets only as confirmed, bodies within the length, completion only
//! when the server holds everything, completion once the server behaves, one length declaration).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../crates/tus-proto/tests/proto/sim/mod.rs"]
#[allow(dead_code)]
mod sim;

fuzz_target!(|data: &[u8]| {
    let mut choices = sim::Choices::new(data);
    let scenario = sim::Scenario::from_choices(&mut choices);
    sim::run(&scenario, &mut choices);
});
