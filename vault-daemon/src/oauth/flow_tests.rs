//! Tests of the OAuth flow's memory, with the clock passed in.

use super::*;

fn params() -> AuthParams {
    AuthParams {
        client_id: "cvc_x".into(),
        name: "Test".into(),
        redirect_uri: "https://app.example/cb".into(),
        state: Some("s".into()),
        challenge: "c".into(),
        resource: "https://v.example/mcp".into(),
    }
}

fn approve(f: &mut Flow, user: &str, t: Instant) {
    f.begin(user, t).ok().unwrap();
    f.finish(user, Some("app"), t).ok().unwrap();
}

#[test]
fn registrations_are_bounded_in_rate_and_count() {
    let mut f = Flow::default();
    let t = Instant::now();
    for _ in 0..REGISTRATIONS_PER_WINDOW {
        f.register("a".into(), vec![], t).ok().unwrap();
    }
    let e = f.register("a".into(), vec![], t).err().unwrap();
    assert_eq!(e.code, "temporarily_unavailable");
    // A minute later the rate allows more; past the count, the oldest
    // registration no request waits for gives way.
    let first = f.registrations[0].client_id.clone();
    let mut p = params();
    p.client_id = first.clone();
    f.request(p, "b".into(), t).ok().unwrap();
    let mut now = t;
    for _ in 0..5 {
        now += REGISTRATION_WINDOW;
        for _ in 0..REGISTRATIONS_PER_WINDOW {
            f.register("a".into(), vec![], now).ok().unwrap();
        }
    }
    assert_eq!(f.registrations.len(), MAX_REGISTRATIONS);
    assert!(
        f.registration(&first).is_some(),
        "a registration in use stays"
    );
}

#[test]
fn a_code_goes_only_to_its_browser_once_and_is_burned_only_when_right() {
    let mut f = Flow::default();
    let t = Instant::now();
    let (wait, user) = f.request(params(), "mine".into(), t).ok().unwrap();
    assert!(
        f.poll(&wait, "theirs", t).is_none(),
        "another browser learns nothing"
    );
    assert!(matches!(
        f.poll(&wait, "mine", t).unwrap().decision,
        Decision::Waiting
    ));
    approve(&mut f, &user.to_lowercase(), t);
    assert!(f.poll(&wait, "theirs", t).is_none());
    let Decision::Approved(Some(code)) = f.poll(&wait, "mine", t).unwrap().decision else {
        panic!("approved with a code")
    };
    assert!(matches!(
        f.poll(&wait, "mine", t).unwrap().decision,
        Decision::Approved(None)
    ));
    // A wrong check leaves the code as it was.
    let wrong = f.take_code(&code, |_| Err(OAuthError::grant("no")), t);
    assert!(matches!(wrong, Err(CodeRefusal::Refused(_))));
    assert_eq!(
        f.take_code(&code, |_| Ok(()), t).ok().unwrap().client,
        "app"
    );
    let fam = Uuid::now_v7();
    // A replay while the first use is under way is remembered...
    assert!(matches!(
        f.take_code(&code, |_| Ok(()), t),
        Err(CodeRefusal::Reused(None))
    ));
    assert!(f.code_started(&code, fam), "the new family must go");
    assert!(matches!(
        f.take_code(&code, |_| Ok(()), t),
        Err(CodeRefusal::Reused(Some(x))) if x == fam
    ));
    // Unused codes expire; used ones are remembered longer, so a late
    // replay still revokes.
    let (_, user) = f.request(params(), "mine".into(), t).ok().unwrap();
    approve(&mut f, &user, t);
    let later = t + CODE_LIFETIME;
    assert_eq!(f.codes.len(), 2);
    f.expire(later);
    assert_eq!(f.codes.len(), 1);
    assert!(matches!(
        f.take_code(&code, |_| Ok(()), later),
        Err(CodeRefusal::Reused(Some(_)))
    ));
    f.expire(t + REQUEST_LIFETIME);
    assert!(f.codes.is_empty());
    // A decided request cannot be decided again.
    assert!(f.begin(&user, later).is_err());
}

#[test]
fn a_request_being_decided_neither_expires_nor_is_taken_twice() {
    let mut f = Flow::default();
    let t = Instant::now();
    let (_, user) = f.request(params(), "b".into(), t).ok().unwrap();
    let waits = |f: &mut Flow, at| f.all_waiting(at).iter().any(|r| r.user_code == user);
    f.begin(&user, t).ok().unwrap();
    assert!(f.begin(&user, t).is_err());
    assert!(!waits(&mut f, t));
    f.abort(&user, t);
    assert!(waits(&mut f, t), "put back to waiting");
    // Taken again, it outlives its lifetime until decided.
    f.begin(&user, t).ok().unwrap();
    let late = t + REQUEST_LIFETIME * 2;
    assert!(f.begin(&user, late).is_err());
    f.finish(&user, None, late).ok().unwrap();
    assert!(!waits(&mut f, late));
    assert!(f.finish(&user, None, late).is_err(), "decided once");
}

#[test]
fn access_tokens_expire_and_go_with_their_family() {
    let mut f = Flow::with_lifetimes(None, Some(Duration::from_secs(10)));
    let t = Instant::now();
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    let ta = f.issue("x", a, "r", t).ok().unwrap();
    let tb = f.issue("y", b, "r", t).ok().unwrap();
    assert_eq!(f.access(&sha256_hex(&ta), t).unwrap().client, "x");
    f.revoke_families(&[a]);
    assert!(f.access(&sha256_hex(&ta), t).is_none());
    assert!(f.access(&sha256_hex(&tb), t).is_some());
    f.retain_access(|x| x.client != "y");
    assert!(f.access(&sha256_hex(&tb), t).is_none());
    let tc = f.issue("z", b, "r", t).ok().unwrap();
    assert!(
        f.access(&sha256_hex(&tc), t + Duration::from_secs(10))
            .is_none()
    );
    // Test lifetimes only shorten.
    assert_eq!(
        Flow::with_lifetimes(None, Some(Duration::from_secs(1 << 20))).access_lifetime(),
        ACCESS_LIFETIME
    );
}

#[test]
fn waiting_requests_are_bounded_per_client_and_in_all() {
    let mut f = Flow::default();
    let t = Instant::now();
    for _ in 0..WAITING_PER_CLIENT {
        f.request(params(), "b".into(), t).ok().unwrap();
    }
    // A flood is refused; the requests already waiting stay.
    assert!(f.request(params(), "b".into(), t).is_err());
    assert_eq!(f.all_waiting(t).len(), WAITING_PER_CLIENT);
    let mut admitted = WAITING_PER_CLIENT;
    for i in 0..MAX_REQUESTS {
        let mut p = params();
        p.client_id = format!("c{i}");
        if f.request(p, "b".into(), t).is_ok() {
            admitted += 1;
        }
    }
    assert_eq!(admitted, MAX_REQUESTS);
    assert_eq!(f.all_waiting(t).len(), MAX_REQUESTS);
    assert!(f.all_waiting(t + REQUEST_LIFETIME * 2).is_empty());
    let code = user_code().unwrap();
    assert_eq!(code.len(), 9);
    assert_eq!(normal_code(&code.to_lowercase()), normal_code(&code));
}
