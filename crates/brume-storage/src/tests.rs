//! Behaviour shared by both stores, durability across reopen and `kill -9`, and blobs.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use bytes::Bytes;

use super::*;

type R<T = ()> = Result<T, StorageError>;

fn put(txn: &mut dyn Txn, key: &str, value: &str) -> R {
    txn.put("t", key.as_bytes(), value.as_bytes())
}

fn keys(pairs: &[KvPair]) -> Vec<String> {
    pairs.iter().map(|(k, _)| String::from_utf8_lossy(k).into_owned()).collect()
}

async fn fill(kv: &dyn Kv, keys: &[&str]) {
    let keys: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
    kv.transact(move |txn| keys.iter().try_for_each(|k| put(txn, k, &format!("v{k}")))).await.unwrap();
}

/// Runs `check` against the in-memory store and the durable store at both levels.
async fn each_store<F, Fut>(check: F)
where
    F: Fn(Storage) -> Fut,
    Fut: Future<Output = ()>,
{
    check(Storage::in_memory()).await;
    for durability in [Durability::Default, Durability::Always] {
        let dir = tempfile::tempdir().unwrap();
        check(open(dir.path(), durability).unwrap()).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn get_and_scans_in_both_directions() {
    each_store(|s| async move {
        let kv = &*s.kv;
        fill(kv, &["a", "b", "c", "d", "e"]).await;
        assert_eq!(kv.get("t", b"c").unwrap(), Some(b"vc".to_vec()));
        assert_eq!(kv.get("t", b"z").unwrap(), None);
        assert_eq!(kv.get("other", b"a").unwrap(), None);
        let all = KeyRange::all();
        assert_eq!(keys(&kv.scan("t", &all, Direction::Forward, 10).unwrap()), ["a", "b", "c", "d", "e"]);
        assert_eq!(keys(&kv.scan("t", &all, Direction::Reverse, 2).unwrap()), ["e", "d"]);
        let mid = KeyRange::between(b"b", b"d");
        assert_eq!(keys(&kv.scan("t", &mid, Direction::Forward, 10).unwrap()), ["b", "c"]);
        assert_eq!(keys(&kv.scan("t", &mid, Direction::Reverse, 10).unwrap()), ["c", "b"]);
        assert!(kv.scan("t", &KeyRange::between(b"d", b"b"), Direction::Forward, 10).unwrap().is_empty());
        assert!(kv.scan("t", &all, Direction::Forward, 0).unwrap().is_empty());
        assert!(matches!(kv.get("Bad/Name", b"a"), Err(StorageError::InvalidKeyspace(_))));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn transactions_see_their_own_writes() {
    each_store(|s| async move {
        let kv = &*s.kv;
        fill(kv, &["a", "b", "c", "d"]).await;
        let seen = kv
            .transact(|txn| -> R<_> {
                txn.delete("t", b"b")?;
                put(txn, "bb", "new")?;
                put(txn, "c", "changed")?;
                put(txn, "e", "new")?;
                let forward = txn.scan("t", &KeyRange::all(), Direction::Forward, 10)?;
                let reverse = txn.scan("t", &KeyRange::all(), Direction::Reverse, 3)?;
                Ok((forward, reverse, txn.get("t", b"b")?, txn.get("t", b"c")?))
            })
            .await
            .unwrap();
        assert_eq!(keys(&seen.0), ["a", "bb", "c", "d", "e"]);
        assert_eq!(keys(&seen.1), ["e", "d", "c"]);
        assert_eq!(seen.2, None);
        assert_eq!(seen.3, Some(b"changed".to_vec()));
        assert_eq!(keys(&kv.scan("t", &KeyRange::all(), Direction::Forward, 10).unwrap()), ["a", "bb", "c", "d", "e"]);
    })
    .await;
}

#[derive(Debug, PartialEq)]
enum AppError {
    Conflict,
    Storage(String),
}

impl From<StorageError> for AppError {
    fn from(e: StorageError) -> Self {
        AppError::Storage(e.to_string())
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_transaction_applies_nothing() {
    each_store(|s| async move {
        let kv = &*s.kv;
        fill(kv, &["a"]).await;
        let result: Result<(), AppError> = kv
            .transact(|txn| {
                put(txn, "b", "x")?;
                txn.delete("t", b"a")?;
                Err(AppError::Conflict)
            })
            .await;
        assert_eq!(result, Err(AppError::Conflict));
        assert_eq!(keys(&kv.scan("t", &KeyRange::all(), Direction::Forward, 10).unwrap()), ["a"]);

        let panicked: R = kv
            .transact(|txn| -> R {
                put(txn, "p", "x")?;
                panic!("boom")
            })
            .await;
        assert!(matches!(panicked, Err(StorageError::Panicked(m)) if m == "boom"));
        assert_eq!(kv.get("t", b"p").unwrap(), None);
        // The writer survives both.
        fill(kv, &["z"]).await;
        assert_eq!(kv.get("t", b"z").unwrap(), Some(b"vz".to_vec()));
    })
    .await;
}

async fn read_in_txn(kv: &dyn Kv, key: &str) -> Option<String> {
    let key = key.to_string();
    let value = kv.transact(move |txn| txn.get("t", key.as_bytes())).await.unwrap();
    value.map(|v| String::from_utf8(v).unwrap())
}

/// The writer remembers the keys transactions read and wrote (see `recent`): what a
/// transaction reads must still be the latest commit, through absences, overwrites,
/// declined transactions and deletions.
#[tokio::test(flavor = "multi_thread")]
async fn transactions_read_the_latest_commit_of_keys_they_read_before() {
    each_store(|s| async move {
        let kv = &*s.kv;
        assert_eq!(read_in_txn(kv, "k").await, None);
        fill(kv, &["k"]).await;
        assert_eq!(read_in_txn(kv, "k").await.as_deref(), Some("vk"));
        let declined: Result<(), AppError> = kv
            .transact(|txn| {
                put(txn, "k", "declined")?;
                Err(AppError::Conflict)
            })
            .await;
        assert_eq!(declined, Err(AppError::Conflict));
        assert_eq!(read_in_txn(kv, "k").await.as_deref(), Some("vk"));
        kv.transact(|txn| -> R {
            let old = txn.get("t", b"k")?.unwrap_or_default();
            txn.put("t", b"k", &[old.as_slice(), b"+1"].concat())
        })
        .await
        .unwrap();
        assert_eq!(read_in_txn(kv, "k").await.as_deref(), Some("vk+1"));
        assert_eq!(kv.get("t", b"k").unwrap(), Some(b"vk+1".to_vec()));
        kv.transact(|txn| txn.delete("t", b"k")).await.unwrap();
        assert_eq!(read_in_txn(kv, "k").await, None);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn plain_reads_follow_every_write_of_a_key_the_writer_remembers() {
    each_store(|s| async move {
        let kv = &*s.kv;
        for value in ["one", "two"] {
            kv.transact(move |txn| put(txn, "k", value)).await.unwrap();
            assert_eq!(kv.get("t", b"k").unwrap(), Some(value.as_bytes().to_vec()));
        }
        assert_eq!(read_in_txn(kv, "k").await.as_deref(), Some("two"));
        kv.transact(|txn| txn.delete("t", b"k")).await.unwrap();
        assert_eq!(kv.get("t", b"k").unwrap(), None);
        // Too large to be remembered: what was remembered of the key is forgotten.
        let large = vec![7u8; 100 << 10];
        let written = large.clone();
        kv.transact(move |txn| txn.put("t", b"k", &written)).await.unwrap();
        assert_eq!(kv.get("t", b"k").unwrap(), Some(large));
    })
    .await;
}

/// One key too large for the writer's memory (always read from the engine) and one small
/// (read from the memory when the writer has it), written together: a reader that saw the
/// large one's new value must see the small one's too.
#[tokio::test(flavor = "multi_thread")]
async fn plain_reads_never_see_a_group_half_applied() {
    each_store(|s| async move {
        let kv = Arc::clone(&s.kv);
        let writer = tokio::spawn(async move {
            for n in 0..300u32 {
                let mut large = vec![0u8; 100 << 10];
                large[..4].copy_from_slice(&n.to_be_bytes());
                kv.transact(move |txn| {
                    txn.put("t", b"large", &large)?;
                    txn.put("t", b"small", &n.to_be_bytes())
                })
                .await
                .unwrap();
            }
        });
        let number = |key: &[u8]| {
            s.kv.get("t", key).unwrap().map_or(0, |value| u32::from_be_bytes(value[..4].try_into().unwrap()))
        };
        loop {
            let finished = writer.is_finished();
            let large = number(b"large");
            let small = number(b"small");
            assert!(small >= large, "read large {large}, then small {small}");
            if finished {
                break;
            }
        }
        writer.await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn snapshots_do_not_see_later_commits() {
    each_store(|s| async move {
        let kv = &*s.kv;
        fill(kv, &["a", "b"]).await;
        let snap = kv.snapshot().unwrap();
        kv.transact(|txn| -> R {
            txn.delete("t", b"a")?;
            put(txn, "b", "changed")?;
            put(txn, "c", "new")?;
            txn.put("fresh", b"k", b"v")
        })
        .await
        .unwrap();
        assert_eq!(snap.get("t", b"a").unwrap(), Some(b"va".to_vec()));
        assert_eq!(snap.get("t", b"b").unwrap(), Some(b"vb".to_vec()));
        assert_eq!(keys(&snap.scan("t", &KeyRange::all(), Direction::Reverse, 10).unwrap()), ["b", "a"]);
        assert_eq!(snap.get("fresh", b"k").unwrap(), None);
        assert_eq!(kv.get("fresh", b"k").unwrap(), Some(b"v".to_vec()));
        assert_eq!(keys(&kv.scan("t", &KeyRange::all(), Direction::Forward, 10).unwrap()), ["b", "c"]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_read_modify_writes_are_serialized() {
    each_store(|s| async move {
        let tasks: Vec<_> = (0..32)
            .map(|_| {
                let kv = Arc::clone(&s.kv);
                tokio::spawn(async move {
                    kv.transact(|txn| -> R {
                        let n = txn.get("t", b"counter")?.map_or(0, |v| u64::from_be_bytes(v.try_into().unwrap()));
                        txn.put("t", b"counter", &(n + 1).to_be_bytes())
                    })
                    .await
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        assert_eq!(s.kv.get("t", b"counter").unwrap(), Some(32u64.to_be_bytes().to_vec()));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn reopen_keeps_data() {
    for durability in [Durability::Default, Durability::Always] {
        let dir = tempfile::tempdir().unwrap();
        let blob = {
            let s = open(dir.path(), durability).unwrap();
            fill(&*s.kv, &["a", "b"]).await;
            let mut w = s.blobs.create().await.unwrap();
            w.write(Bytes::from_static(b"body")).await.unwrap();
            w.commit().await.unwrap()
        };
        let s = open(dir.path(), durability).unwrap();
        assert_eq!(keys(&s.kv.scan("t", &KeyRange::all(), Direction::Forward, 10).unwrap()), ["a", "b"]);
        assert_eq!(s.blobs.len(blob).await.unwrap(), 4);
        s.flush().await.unwrap();
    }
}

/// A closed store still takes writes, and opens again with all of them.
#[tokio::test(flavor = "multi_thread")]
async fn a_closed_store_stays_usable() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = open(dir.path(), Durability::Default).unwrap();
        fill(&*s.kv, &["a", "b"]).await;
        s.close().await.unwrap();
        fill(&*s.kv, &["c"]).await;
        s.close().await.unwrap();
    }
    let s = open(dir.path(), Durability::Default).unwrap();
    assert_eq!(keys(&s.kv.scan("t", &KeyRange::all(), Direction::Forward, 10).unwrap()), ["a", "b", "c"]);
}

const CRASH_DIR: &str = "BRUME_STORAGE_CRASH_DIR";
const CRASH_LEVEL: &str = "BRUME_STORAGE_CRASH_LEVEL";

/// The child of `kill_9_loses_no_acknowledged_write`: outside that test it returns at once.
/// It writes keys from several tasks (so commits are grouped) and prints each key once its
/// transaction is acknowledged, until it is killed.
#[tokio::test(flavor = "multi_thread")]
async fn crash_child_writer() {
    let Some(dir) = std::env::var_os(CRASH_DIR) else {
        return;
    };
    let durability =
        if std::env::var(CRASH_LEVEL).as_deref() == Ok("always") { Durability::Always } else { Durability::Default };
    let s = open(Path::new(&dir), durability).unwrap();
    let writers: Vec<_> = (0..8u64)
        .map(|w| {
            let kv = Arc::clone(&s.kv);
            tokio::spawn(async move {
                for i in 0.. {
                    let key = format!("w{w}-{i}");
                    let k = key.clone();
                    kv.transact(move |txn| txn.put("crash", k.as_bytes(), &[7; 100])).await.unwrap();
                    println!("ACK {key}");
                }
            })
        })
        .collect();
    for w in writers {
        w.await.unwrap();
    }
}

fn kill_midway(durability: Durability) {
    let dir = tempfile::tempdir().unwrap();
    let level = if durability == Durability::Always { "always" } else { "default" };
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "tests::crash_child_writer", "--nocapture", "--test-threads=1"])
        .env(CRASH_DIR, dir.path())
        .env(CRASH_LEVEL, level)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut acked = Vec::new();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    while acked.len() < 300 {
        let line = lines.next().expect("child ended early").unwrap();
        if let Some(key) = line.strip_prefix("ACK ") {
            acked.push(key.to_string());
        }
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    // Lines already written before the kill were acknowledged too.
    acked.extend(lines.map_while(Result::ok).filter_map(|l| l.strip_prefix("ACK ").map(str::to_string)));

    let s = open(dir.path(), durability).unwrap();
    let missing: Vec<_> = acked.iter().filter(|k| s.kv.get("crash", k.as_bytes()).unwrap().is_none()).collect();
    assert!(missing.is_empty(), "{level}: {} of {} acknowledged keys lost: {missing:?}", missing.len(), acked.len());
}

#[test]
fn kill_9_loses_no_acknowledged_write_default() {
    kill_midway(Durability::Default);
}

#[test]
fn kill_9_loses_no_acknowledged_write_always() {
    kill_midway(Durability::Always);
}

async fn read_all(s: &Storage, id: BlobId, range: Option<(u64, u64)>) -> R<Vec<u8>> {
    let mut out = Vec::new();
    crate::read_to_end(s.blobs.open(id, range).await?, &mut out).await?;
    Ok(out)
}

#[tokio::test(flavor = "multi_thread")]
async fn blobs_stream_in_and_out() {
    each_store(|s| async move {
        let mut w = s.blobs.create().await.unwrap();
        let chunk: Vec<u8> = (0..=255).collect();
        for _ in 0..1000 {
            w.write(Bytes::from(chunk.clone())).await.unwrap();
        }
        assert_eq!(w.len(), 256_000);
        let id = w.commit().await.unwrap();
        assert_eq!(id.to_string().parse::<BlobId>().unwrap(), id);
        assert_eq!(s.blobs.len(id).await.unwrap(), 256_000);
        let all = read_all(&s, id, None).await.unwrap();
        assert_eq!(all.len(), 256_000);
        assert!(all.chunks(256).all(|c| c == chunk));
        assert_eq!(read_all(&s, id, Some((250, 260))).await.unwrap(), [250, 251, 252, 253, 254, 255, 0, 1, 2, 3]);
        assert_eq!(read_all(&s, id, Some((256_000, 256_000))).await.unwrap(), Vec::<u8>::new());
        assert!(matches!(s.blobs.open(id, Some((10, 256_001))).await, Err(StorageError::InvalidRange { .. })));

        s.blobs.delete(id).await.unwrap();
        s.blobs.delete(id).await.unwrap();
        assert!(matches!(s.blobs.len(id).await, Err(StorageError::BlobNotFound(_))));
        assert!(matches!(s.blobs.open(id, None).await, Err(StorageError::BlobNotFound(_))));
        s.flush().await.unwrap();
    })
    .await;
}

/// Blobs of several read chunks come back whole from any offset, a file in chunks of one
/// read, whether the page cache holds the file or not; a file cut short under its reader
/// fails the stream instead of ending early.
#[tokio::test(flavor = "multi_thread")]
async fn large_blobs_read_back_in_chunks_from_any_offset() {
    let len = 3 * blobs::READ_CHUNK as usize + 1000;
    let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
    each_store(|s| {
        let data = data.clone();
        async move {
            let mut w = s.blobs.create().await.unwrap();
            for piece in data.chunks(100_000) {
                w.write(Bytes::copy_from_slice(piece)).await.unwrap();
            }
            let id = w.commit().await.unwrap();
            assert_eq!(read_all(&s, id, None).await.unwrap(), data);
            let (start, end) = (blobs::READ_CHUNK - 10, 2 * blobs::READ_CHUNK + 10);
            assert_eq!(read_all(&s, id, Some((start, end))).await.unwrap(), data[start as usize..end as usize]);
        }
    })
    .await;

    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path(), Durability::Default).unwrap();
    let data_copy = data.clone();
    let mut w = s.blobs.create().await.unwrap();
    w.write(Bytes::from(data)).await.unwrap();
    let id = w.commit().await.unwrap();
    let mut reader = s.blobs.open(id, Some((1, len as u64))).await.unwrap();
    let mut sizes = Vec::new();
    while let Some(chunk) = futures_util::StreamExt::next(&mut reader).await {
        sizes.push(chunk.unwrap().len() as u64);
    }
    let chunk = blobs::READ_CHUNK;
    assert_eq!(sizes, [chunk, chunk, chunk, 999]);
    // Out of the page cache (synced first, so that its pages are clean and can go), the
    // chunks are read on a blocking thread instead, with the same result.
    let hex = id.to_string();
    let path = dir.path().join("blobs").join(&hex[0..2]).join(&hex[2..4]).join(&hex);
    let file = std::fs::File::open(&path).unwrap();
    file.sync_all().unwrap();
    rustix::fs::fadvise(&file, 0, None, rustix::fs::Advice::DontNeed).unwrap();
    assert_eq!(read_all(&s, id, Some((1, len as u64))).await.unwrap(), data_copy[1..]);
    let reader = s.blobs.open(id, None).await.unwrap();
    std::fs::OpenOptions::new().write(true).open(&path).unwrap().set_len(1000).unwrap();
    let err = crate::read_to_end(reader, &mut Vec::new()).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof);
}

#[tokio::test(flavor = "multi_thread")]
async fn sweep_removes_only_unreferenced_blobs() {
    each_store(|s| async move {
        let mut ids = Vec::new();
        for body in [&b"one"[..], b"two", b"three"] {
            let mut w = s.blobs.create().await.unwrap();
            w.write(Bytes::from_static(body)).await.unwrap();
            ids.push(w.commit().await.unwrap());
        }
        let live: HashSet<BlobId> = ids[..2].iter().copied().collect();
        assert_eq!(s.blobs.sweep(&live).await.unwrap(), 1);
        assert_eq!(read_all(&s, ids[1], None).await.unwrap(), b"two");
        assert!(s.blobs.len(ids[2]).await.is_err());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn abandoned_blobs_leave_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path(), Durability::Default).unwrap();
    let mut aborted = s.blobs.create().await.unwrap();
    aborted.write(Bytes::from_static(b"partial")).await.unwrap();
    aborted.abort().await.unwrap();
    let mut dropped = s.blobs.create().await.unwrap();
    dropped.write(Bytes::from_static(b"partial")).await.unwrap();
    drop(dropped);
    assert_eq!(std::fs::read_dir(dir.path().join("blobs/tmp")).unwrap().count(), 0);
    assert_eq!(s.blobs.sweep(&HashSet::new()).await.unwrap(), 0);
}

#[test]
fn blob_ids_are_canonical_hex() {
    for bad in ["", "xyz", "0123456789ABCDEF0123456789abcdef", "../../etc/passwd", "0123456789abcdef0123456789abcde"] {
        assert!(bad.parse::<BlobId>().is_err(), "{bad:?}");
    }
}
