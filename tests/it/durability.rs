//! Every acknowledged write survives `kill -9`.

use super::common::*;
use super::raw::{Raw, admin_credentials};
use std::sync::{Arc, Mutex};
use time::OffsetDateTime;

#[test]
fn acknowledged_writes_survive_kill_9() {
    let mut s = Server::start();
    let admin = admin_credentials(&s.data_dir().join("admin-credentials"));
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let trust = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Principal%22%3A%7B%22Service%22%3A%22pods.eks.amazonaws.com%22%7D%2C%22Action%22%3A%5B%22sts%3AAssumeRole%22%2C%22sts%3ATagSession%22%5D%7D%5D%7D";
    let mut workers = Vec::new();
    for w in 0..3 {
        let (acked, stop, addr, admin) =
            (acked.clone(), stop.clone(), s.addr.clone(), admin.clone());
        workers.push(std::thread::spawn(move || {
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let name = format!("r-{w}-{i}");
                i += 1;
                let r = Raw { addr: &addr, creds: admin.clone(), service: "iam", time: OffsetDateTime::now_utc(), unsigned_headers: vec![] };
                let result = std::panic::catch_unwind(|| {
                    r.post(&format!("Action=CreateRole&Version=2010-05-08&RoleName={name}&AssumeRolePolicyDocument={trust}"))
                });
                match result {
                    Ok((200, _)) => acked.lock().unwrap().push(name),
                    _ => break, // the server is gone
                }
            }
        }));
    }
    assert!(wait_for(std::time::Duration::from_secs(20), || acked
        .lock()
        .unwrap()
        .len()
        >= 60));
    s.kill9();
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    for w in workers {
        let _ = w.join();
    }
    let acked = acked.lock().unwrap().clone();
    s.restart();
    let mut listed = String::new();
    let mut marker: Option<String> = None;
    loop {
        let r = Raw {
            addr: &s.addr,
            creds: admin.clone(),
            service: "iam",
            time: OffsetDateTime::now_utc(),
            unsigned_headers: vec![],
        };
        let body = match &marker {
            Some(m) => format!("Action=ListRoles&Version=2010-05-08&MaxItems=1000&Marker={m}"),
            None => "Action=ListRoles&Version=2010-05-08&MaxItems=1000".to_string(),
        };
        let (st, xml) = r.post(&body);
        assert_eq!(st, 200, "{xml}");
        listed.push_str(&xml);
        marker = xml
            .split("<Marker>")
            .nth(1)
            .and_then(|x| x.split("</Marker>").next())
            .map(str::to_string);
        if marker.is_none() {
            break;
        }
    }
    for name in &acked {
        assert!(
            listed.contains(&format!("<RoleName>{name}</RoleName>")),
            "acknowledged role {name} lost after kill -9"
        );
    }
}
