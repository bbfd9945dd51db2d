//! Hostile requests against the front door's middlewares (requestid, cors, csrf, basicauth,
//! jwt): never a panic, and every rule of `tests/hostile_requests/front_door.rs` holds (an
//! origin echoed only when allowed, CSRF passed only with the issued token, basicauth and jwt
//! opened only by the right credentials).
#![no_main]

#[path = "../../tests/hostile_requests/front_door.rs"]
mod front_door;

use std::cell::RefCell;

use front_door::FrontDoor;
use libfuzzer_sys::fuzz_target;

/// Executions per door: CSRF stores a token per safe request, so a door is built anew now
/// and then to keep the fuzzer's memory flat.
const USES: usize = 4096;

thread_local! {
    static RUNTIME: tokio::runtime::Runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    static DOOR: RefCell<Option<(usize, FrontDoor)>> = const { RefCell::new(None) };
}

fuzz_target!(|data: &[u8]| {
    let Some(request) = front_door::from_bytes(data) else { return };
    RUNTIME.with(|runtime| {
        DOOR.with(|door| {
            let mut door = door.borrow_mut();
            if door.as_ref().is_none_or(|(uses, _)| *uses >= USES) {
                *door = Some((0, runtime.block_on(FrontDoor::build())));
            }
            let (uses, door) = door.as_mut().unwrap();
            *uses += 1;
            runtime.block_on(door.check(&request));
        })
    });
});
