//! Objects on disk under `<data_dir>/s3/`.
//!
//! Layout:
//! - `tmp/`: uploads in progress (data is streamed here, then fsynced).
//! - `objects/<bucket>/<hh>/<sha256(key)>.meta`: the object's metadata (JSON).
//! - `objects/<bucket>/<hh>/<sha256(key)>.<unique>.data`: its content.
//! - `uploads/<upload id>/upload.json`, `<n>.json`, `<n>.<unique>.data`:
//!   multipart uploads.
//!
//! File names are hashes, so no key (`../`, NUL, 1 KiB of `/`) ever becomes a
//! path. A PUT writes the data to `tmp/`, fsyncs it, renames it to its unique
//! data name, then writes the metadata to `tmp/`, fsyncs it and renames it
//! over `<hash>.meta`: the rename of the metadata is the commit. Until then
//! the old object (whose data file is removed only after the commit) stays
//! visible; a `kill -9` at any point leaves either the old or the new object,
//! never a partial one. Data files no metadata refers to are removed at
//! startup. Listing uses an in-memory sorted per-bucket index rebuilt at
//! startup.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

/// An object's metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectMeta {
    /// The key.
    pub key: String,
    /// Content length.
    pub size: u64,
    /// The ETag without quotes: hex MD5, or `md5-of-md5s-N` for multipart.
    pub etag: String,
    /// Epoch milliseconds.
    pub last_modified_ms: i64,
    /// `Content-Type`.
    pub content_type: String,
    /// Other stored headers (`content-encoding`, `cache-control`, …), lowercase names.
    pub headers: Vec<(String, String)>,
    /// `x-amz-meta-*` (names lowercase, without the prefix).
    pub user_meta: Vec<(String, String)>,
    /// Object tags.
    pub tags: Vec<(String, String)>,
    /// Number of parts for multipart objects.
    pub parts: Option<u32>,
    /// A verified `x-amz-checksum-*` of the whole content (header name, base64).
    pub checksum: Option<(String, String)>,
    /// The data file name (set by the store).
    #[serde(default)]
    pub data: String,
}

/// A multipart upload in progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Upload {
    /// The upload id.
    pub id: String,
    /// Bucket.
    pub bucket: String,
    /// Key.
    pub key: String,
    /// Epoch milliseconds.
    pub initiated_ms: i64,
    /// The initiator's ARN.
    pub initiator: String,
    /// The object's metadata to be (content type, user metadata, tags).
    pub template: ObjectMeta,
}

/// One uploaded part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    /// 1..=10000.
    pub number: u32,
    /// Hex MD5.
    pub etag: String,
    /// Size in bytes.
    pub size: u64,
    /// Epoch milliseconds.
    pub last_modified_ms: i64,
    /// Data file name in the upload's directory.
    pub data: String,
}

type Index = HashMap<String, BTreeMap<String, Arc<ObjectMeta>>>;

/// The on-disk object store with its in-memory index.
#[derive(Debug)]
pub struct ObjectStore {
    root: PathBuf,
    index: RwLock<Index>,
    uploads: RwLock<BTreeMap<String, Arc<Upload>>>,
    commit: Mutex<()>,
    counter: AtomicU64,
}

/// A temporary file being written.
#[derive(Debug)]
pub struct TempFile {
    /// Its path under `tmp/`.
    pub path: PathBuf,
    /// The open file.
    pub file: tokio::fs::File,
    /// Whether its content is already on disk (fsynced).
    pub synced: bool,
}

impl TempFile {
    /// Makes the content durable, unless it already is.
    async fn sync(&self) -> std::io::Result<()> {
        if self.synced {
            return Ok(());
        }
        self.file.sync_all().await
    }
}

/// The hex SHA-256 of a key: its file name stem.
pub fn key_hash(key: &str) -> String {
    podiam_sigv4::sha256_hex(key.as_bytes())
}

/// Whether `name` can be a directory name for a bucket (S3's naming rules
/// guarantee it; checked again before any path is built).
fn safe_bucket_dir(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
}

/// Whether `id` is shaped like an upload id podiam issues.
pub fn valid_upload_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn safe_file_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 200
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
}

fn fsync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

fn now_ms() -> i64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl ObjectStore {
    /// Opens (creating) the store under `root`, cleaning up after crashes and
    /// rebuilding the index.
    pub fn open(root: &Path) -> std::io::Result<ObjectStore> {
        let root = root.to_path_buf();
        for d in ["tmp", "objects", "uploads"] {
            std::fs::create_dir_all(root.join(d))?;
        }
        // Anything in tmp/ is an interrupted write.
        for e in std::fs::read_dir(root.join("tmp"))? {
            let e = e?;
            let _ = std::fs::remove_file(e.path());
        }
        let mut index: Index = HashMap::new();
        for b in std::fs::read_dir(root.join("objects"))? {
            let b = b?;
            let Some(bucket) = b.file_name().to_str().map(str::to_string) else {
                continue;
            };
            if !safe_bucket_dir(&bucket) || !b.file_type()?.is_dir() {
                continue;
            }
            let map = index.entry(bucket.clone()).or_default();
            for shard in std::fs::read_dir(b.path())? {
                let shard = shard?;
                if !shard.file_type()?.is_dir() {
                    continue;
                }
                load_shard(&shard.path(), map)?;
            }
        }
        let mut uploads = BTreeMap::new();
        for u in std::fs::read_dir(root.join("uploads"))? {
            let u = u?;
            let path = u.path().join("upload.json");
            match std::fs::read(&path)
                .ok()
                .and_then(|b| serde_json::from_slice::<Upload>(&b).ok())
            {
                Some(up) if Some(up.id.as_str()) == u.file_name().to_str() => {
                    uploads.insert(up.id.clone(), Arc::new(up));
                }
                _ => {
                    // Created but never committed.
                    let _ = std::fs::remove_dir_all(u.path());
                }
            }
        }
        Ok(ObjectStore {
            root,
            index: RwLock::new(index),
            uploads: RwLock::new(uploads),
            commit: Mutex::new(()),
            counter: AtomicU64::new(0),
        })
    }

    fn unique(&self) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        format!("{t:x}-{:x}-{n:x}", std::process::id())
    }

    fn bucket_dir(&self, bucket: &str) -> std::io::Result<PathBuf> {
        if !safe_bucket_dir(bucket) {
            return Err(std::io::Error::other("unsafe bucket name"));
        }
        Ok(self.root.join("objects").join(bucket))
    }

    fn shard_dir(&self, bucket: &str, hash: &str) -> std::io::Result<PathBuf> {
        Ok(self.bucket_dir(bucket)?.join(&hash[..2]))
    }

    /// Starts a temporary file under `tmp/`.
    pub async fn temp_file(&self) -> std::io::Result<TempFile> {
        let path = self.root.join("tmp").join(self.unique());
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .await?;
        Ok(TempFile {
            path,
            file,
            synced: false,
        })
    }

    /// A temporary file holding `data`, created, written and fsynced in one
    /// trip to the blocking pool (a streamed temp file costs one per write).
    pub async fn temp_file_with(&self, data: Vec<u8>) -> std::io::Result<TempFile> {
        let path = self.root.join("tmp").join(self.unique());
        let at = path.clone();
        let file = tokio::task::spawn_blocking(move || {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&at)?;
            let written = f.write_all(&data).and_then(|()| f.sync_all());
            if let Err(e) = written {
                let _ = std::fs::remove_file(&at);
                return Err(e);
            }
            Ok(f)
        })
        .await
        .map_err(std::io::Error::other)??;
        Ok(TempFile {
            path,
            file: tokio::fs::File::from_std(file),
            synced: true,
        })
    }

    fn write_json_atomic<T: Serialize>(&self, value: &T, target: &Path) -> std::io::Result<()> {
        let tmp = self.root.join("tmp").join(self.unique());
        let body = serde_json::to_vec(value).map_err(std::io::Error::other)?;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(&body)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, target)?;
        if let Some(parent) = target.parent() {
            fsync_dir(parent)?;
        }
        Ok(())
    }

    /// Creates the bucket's directory and index entry.
    pub fn create_bucket(&self, bucket: &str) -> std::io::Result<()> {
        std::fs::create_dir_all(self.bucket_dir(bucket)?)?;
        self.write_index().entry(bucket.to_string()).or_default();
        Ok(())
    }

    /// Removes the bucket's (empty) directory and index entry, and aborts its uploads.
    pub fn remove_bucket(&self, bucket: &str) -> std::io::Result<()> {
        let dir = self.bucket_dir(bucket)?;
        self.write_index().remove(bucket);
        let ids: Vec<String> = self
            .read_uploads()
            .values()
            .filter(|u| u.bucket == bucket)
            .map(|u| u.id.clone())
            .collect();
        for id in ids {
            self.abort_upload(&id)?;
        }
        match std::fs::remove_dir_all(dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Whether this store holds the bucket's objects.
    pub fn has_bucket(&self, bucket: &str) -> bool {
        self.read_index().contains_key(bucket)
    }

    /// Whether the bucket holds no object.
    pub fn bucket_is_empty(&self, bucket: &str) -> bool {
        self.read_index().get(bucket).is_none_or(|m| m.is_empty())
    }

    /// An object's metadata.
    pub fn get(&self, bucket: &str, key: &str) -> Option<Arc<ObjectMeta>> {
        self.read_index().get(bucket)?.get(key).cloned()
    }

    /// The path of an object's data.
    pub fn data_path(&self, bucket: &str, meta: &ObjectMeta) -> std::io::Result<PathBuf> {
        let hash = key_hash(&meta.key);
        if !safe_file_name(&meta.data) {
            return Err(std::io::Error::other("unsafe data file name"));
        }
        Ok(self.shard_dir(bucket, &hash)?.join(&meta.data))
    }

    /// Makes `tmp` (fsynced here) the content of `meta.key`: the commit point
    /// is the rename of the metadata file.
    pub async fn commit_object(
        self: &Arc<Self>,
        bucket: &str,
        tmp: TempFile,
        meta: ObjectMeta,
    ) -> std::io::Result<Arc<ObjectMeta>> {
        tmp.sync().await?;
        drop(tmp.file);
        let this = self.clone();
        let bucket = bucket.to_string();
        let tmp_path = tmp.path;
        tokio::task::spawn_blocking(move || this.commit_blocking(&bucket, &tmp_path, meta))
            .await
            .map_err(std::io::Error::other)?
    }

    fn commit_blocking(
        &self,
        bucket: &str,
        tmp: &Path,
        mut meta: ObjectMeta,
    ) -> std::io::Result<Arc<ObjectMeta>> {
        let hash = key_hash(&meta.key);
        let dir = self.shard_dir(bucket, &hash)?;
        let result = (|| {
            std::fs::create_dir_all(&dir)?;
            meta.data = format!("{hash}.{}.data", self.unique());
            std::fs::rename(tmp, dir.join(&meta.data))?;
            fsync_dir(&dir)?;
            let _guard = self.commit.lock().unwrap_or_else(|e| e.into_inner());
            if !self.read_index().contains_key(bucket) {
                let _ = std::fs::remove_file(dir.join(&meta.data));
                return Err(std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "bucket deleted",
                ));
            }
            self.write_json_atomic(&meta, &dir.join(format!("{hash}.meta")))?;
            let meta = Arc::new(meta);
            let old = self
                .write_index()
                .entry(bucket.to_string())
                .or_default()
                .insert(meta.key.clone(), meta.clone());
            if let Some(old) = old
                && old.data != meta.data
            {
                let _ = std::fs::remove_file(dir.join(&old.data));
            }
            Ok(meta)
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(tmp);
        }
        result
    }

    /// Rewrites an object's metadata (tags) without touching its data.
    pub async fn update_meta(
        self: &Arc<Self>,
        bucket: &str,
        key: &str,
        f: impl FnOnce(&mut ObjectMeta) + Send + 'static,
    ) -> std::io::Result<Option<Arc<ObjectMeta>>> {
        let this = self.clone();
        let bucket = bucket.to_string();
        let key = key.to_string();
        tokio::task::spawn_blocking(move || {
            let _guard = this.commit.lock().unwrap_or_else(|e| e.into_inner());
            let Some(cur) = this.get(&bucket, &key) else {
                return Ok(None);
            };
            let mut m = (*cur).clone();
            f(&mut m);
            let hash = key_hash(&key);
            let dir = this.shard_dir(&bucket, &hash)?;
            this.write_json_atomic(&m, &dir.join(format!("{hash}.meta")))?;
            let m = Arc::new(m);
            this.write_index()
                .entry(bucket)
                .or_default()
                .insert(key, m.clone());
            Ok(Some(m))
        })
        .await
        .map_err(std::io::Error::other)?
    }

    /// Deletes an object; `false` if there was none.
    pub async fn delete(self: &Arc<Self>, bucket: &str, key: &str) -> std::io::Result<bool> {
        let this = self.clone();
        let bucket = bucket.to_string();
        let key = key.to_string();
        tokio::task::spawn_blocking(move || {
            let _guard = this.commit.lock().unwrap_or_else(|e| e.into_inner());
            let Some(cur) = this.get(&bucket, &key) else {
                return Ok(false);
            };
            let hash = key_hash(&key);
            let dir = this.shard_dir(&bucket, &hash)?;
            std::fs::remove_file(dir.join(format!("{hash}.meta")))?;
            fsync_dir(&dir)?;
            if let Some(m) = this.write_index().get_mut(&bucket) {
                m.remove(&key);
            }
            let _ = std::fs::remove_file(dir.join(&cur.data));
            Ok(true)
        })
        .await
        .map_err(std::io::Error::other)?
    }

    /// One page of a listing (see [`list_page`]).
    pub fn list(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: Option<&str>,
        marker: Option<&str>,
        max: usize,
    ) -> ListPage<Arc<ObjectMeta>> {
        let idx = self.read_index();
        match idx.get(bucket) {
            Some(m) => list_page(m, prefix, delimiter, marker, max),
            None => ListPage {
                entries: Vec::new(),
                truncated: false,
                last: None,
            },
        }
    }

    // ---- multipart ----

    fn upload_dir(&self, id: &str) -> std::io::Result<PathBuf> {
        if !valid_upload_id(id) {
            return Err(std::io::Error::other("invalid upload id"));
        }
        Ok(self.root.join("uploads").join(id))
    }

    /// Records a new upload.
    pub fn create_upload(&self, up: Upload) -> std::io::Result<Arc<Upload>> {
        let dir = self.upload_dir(&up.id)?;
        std::fs::create_dir_all(&dir)?;
        self.write_json_atomic(&up, &dir.join("upload.json"))?;
        let up = Arc::new(up);
        self.uploads
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(up.id.clone(), up.clone());
        Ok(up)
    }

    /// An upload in progress.
    pub fn upload(&self, id: &str) -> Option<Arc<Upload>> {
        self.read_uploads().get(id).cloned()
    }

    /// Uploads in `bucket`, by key then initiation.
    pub fn uploads_in(&self, bucket: &str) -> Vec<Arc<Upload>> {
        let mut v: Vec<Arc<Upload>> = self
            .read_uploads()
            .values()
            .filter(|u| u.bucket == bucket)
            .cloned()
            .collect();
        v.sort_by(|a, b| (&a.key, a.initiated_ms).cmp(&(&b.key, b.initiated_ms)));
        v
    }

    /// Stores part `number` of upload `id` from `tmp`.
    pub async fn commit_part(
        self: &Arc<Self>,
        id: &str,
        number: u32,
        tmp: TempFile,
        etag: String,
        size: u64,
    ) -> std::io::Result<Option<Part>> {
        tmp.sync().await?;
        drop(tmp.file);
        let this = self.clone();
        let id = id.to_string();
        let tmp_path = tmp.path;
        tokio::task::spawn_blocking(move || {
            let r = (|| {
                let _guard = this.commit.lock().unwrap_or_else(|e| e.into_inner());
                if this.upload(&id).is_none() {
                    return Ok(None);
                }
                let dir = this.upload_dir(&id)?;
                let part = Part {
                    number,
                    etag,
                    size,
                    last_modified_ms: now_ms(),
                    data: format!("{number}.{}.data", this.unique()),
                };
                std::fs::rename(&tmp_path, dir.join(&part.data))?;
                fsync_dir(&dir)?;
                let json = dir.join(format!("{number}.json"));
                let old: Option<Part> = std::fs::read(&json)
                    .ok()
                    .and_then(|b| serde_json::from_slice(&b).ok());
                this.write_json_atomic(&part, &json)?;
                if let Some(old) = old
                    && safe_file_name(&old.data)
                {
                    let _ = std::fs::remove_file(dir.join(old.data));
                }
                Ok(Some(part))
            })();
            if !matches!(r, Ok(Some(_))) {
                let _ = std::fs::remove_file(&tmp_path);
            }
            r
        })
        .await
        .map_err(std::io::Error::other)?
    }

    /// The parts of an upload, by number.
    pub async fn parts(self: &Arc<Self>, id: &str) -> std::io::Result<Vec<Part>> {
        let dir = self.upload_dir(id)?;
        tokio::task::spawn_blocking(move || {
            let mut parts = Vec::new();
            for e in std::fs::read_dir(&dir)? {
                let e = e?;
                let name = e.file_name();
                let Some(name) = name.to_str() else { continue };
                if name == "upload.json" || !name.ends_with(".json") {
                    continue;
                }
                if let Some(p) = std::fs::read(e.path())
                    .ok()
                    .and_then(|b| serde_json::from_slice::<Part>(&b).ok())
                    .filter(|p| safe_file_name(&p.data))
                {
                    parts.push(p);
                }
            }
            parts.sort_by_key(|p| p.number);
            Ok(parts)
        })
        .await
        .map_err(std::io::Error::other)?
    }

    /// The path of a part's data.
    pub fn part_path(&self, id: &str, part: &Part) -> std::io::Result<PathBuf> {
        if !safe_file_name(&part.data) {
            return Err(std::io::Error::other("unsafe part file name"));
        }
        Ok(self.upload_dir(id)?.join(&part.data))
    }

    /// Forgets an upload and removes its parts; `false` if there was none.
    pub fn abort_upload(&self, id: &str) -> std::io::Result<bool> {
        let dir = self.upload_dir(id)?;
        let _guard = self.commit.lock().unwrap_or_else(|e| e.into_inner());
        let existed = self
            .uploads
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id)
            .is_some();
        match std::fs::remove_dir_all(dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(existed),
        }
    }

    /// Removes an upload's state and returns it, so that exactly one
    /// CompleteMultipartUpload wins.
    pub fn take_upload(&self, id: &str) -> Option<Arc<Upload>> {
        let _guard = self.commit.lock().unwrap_or_else(|e| e.into_inner());
        self.uploads
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id)
    }

    /// Puts back an upload taken by [`take_upload`](Self::take_upload) when
    /// completing it failed.
    pub fn restore_upload(&self, up: Arc<Upload>) {
        self.uploads
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(up.id.clone(), up);
    }

    fn read_index(&self) -> std::sync::RwLockReadGuard<'_, Index> {
        self.index.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_index(&self) -> std::sync::RwLockWriteGuard<'_, Index> {
        self.index.write().unwrap_or_else(|e| e.into_inner())
    }

    fn read_uploads(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Arc<Upload>>> {
        self.uploads.read().unwrap_or_else(|e| e.into_inner())
    }
}

/// Loads the metadata files of one shard directory and removes data files no
/// metadata refers to (interrupted or superseded writes).
fn load_shard(dir: &Path, map: &mut BTreeMap<String, Arc<ObjectMeta>>) -> std::io::Result<()> {
    let mut referenced = std::collections::HashSet::new();
    let mut data_files = Vec::new();
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(hash) = name.strip_suffix(".meta") {
            let meta = std::fs::read(e.path())
                .ok()
                .and_then(|b| serde_json::from_slice::<ObjectMeta>(&b).ok());
            match meta {
                Some(m)
                    if key_hash(&m.key) == hash
                        && safe_file_name(&m.data)
                        && m.data.starts_with(hash)
                        && dir.join(&m.data).is_file() =>
                {
                    referenced.insert(m.data.clone());
                    map.insert(m.key.clone(), Arc::new(m));
                }
                _ => {
                    tracing::warn!(file = %e.path().display(), "ignoring unreadable object metadata")
                }
            }
        } else if name.ends_with(".data") {
            data_files.push(name.to_string());
        }
    }
    for d in data_files {
        if !referenced.contains(&d) {
            let _ = std::fs::remove_file(dir.join(d));
        }
    }
    Ok(())
}

/// One listing entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListEntry<V> {
    /// An object.
    Object(V),
    /// A common prefix (`CommonPrefixes`).
    Prefix(String),
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListPage<V> {
    /// Objects and common prefixes, in key order.
    pub entries: Vec<ListEntry<V>>,
    /// Whether more entries follow.
    pub truncated: bool,
    /// The last key or common prefix returned (the next marker).
    pub last: Option<String>,
}

/// Lists keys of `map` starting with `prefix`, strictly after `marker`,
/// rolling keys that contain `delimiter` after the prefix into common
/// prefixes (a common prefix at or before the marker is skipped), at most
/// `max` entries.
pub fn list_page<V: Clone>(
    map: &BTreeMap<String, V>,
    prefix: &str,
    delimiter: Option<&str>,
    marker: Option<&str>,
    max: usize,
) -> ListPage<V> {
    let delimiter = delimiter.filter(|d| !d.is_empty());
    let mut cursor: Bound<String> = match marker {
        Some(m) if m >= prefix => Bound::Excluded(m.to_string()),
        _ => Bound::Included(prefix.to_string()),
    };
    let mut entries = Vec::new();
    let mut last: Option<String> = None;
    let mut truncated = false;
    while let Some((k, v)) = map.range((cursor.clone(), Bound::Unbounded)).next() {
        if !k.starts_with(prefix) {
            break;
        }
        if let Some(d) = delimiter
            && let Some(i) = k[prefix.len()..].find(d)
        {
            let cp = &k[..prefix.len() + i + d.len()];
            let seen = marker.is_some_and(|m| cp <= m) || last.as_deref() == Some(cp);
            if seen {
                cursor = Bound::Excluded(k.clone());
                continue;
            }
            if entries.len() >= max {
                truncated = true;
                break;
            }
            entries.push(ListEntry::Prefix(cp.to_string()));
            last = Some(cp.to_string());
            cursor = Bound::Excluded(format!("{cp}\u{10FFFF}"));
            continue;
        }
        if entries.len() >= max {
            truncated = true;
            break;
        }
        entries.push(ListEntry::Object(v.clone()));
        last = Some(k.clone());
        cursor = Bound::Excluded(k.clone());
    }
    ListPage {
        entries,
        truncated,
        last,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(keys: &[&str]) -> BTreeMap<String, String> {
        keys.iter()
            .map(|k| (k.to_string(), k.to_string()))
            .collect()
    }

    fn names(p: &ListPage<String>) -> Vec<String> {
        p.entries
            .iter()
            .map(|e| match e {
                ListEntry::Object(k) => k.clone(),
                ListEntry::Prefix(p) => format!("P:{p}"),
            })
            .collect()
    }

    #[test]
    fn listing_with_prefix_and_delimiter() {
        let m = map(&["a", "b/1", "b/2", "b/c/3", "c", "d/x", "e"]);
        let p = list_page(&m, "", Some("/"), None, 1000);
        assert_eq!(names(&p), ["a", "P:b/", "c", "P:d/", "e"]);
        assert!(!p.truncated);
        let p = list_page(&m, "b/", Some("/"), None, 1000);
        assert_eq!(names(&p), ["b/1", "b/2", "P:b/c/"]);
        let p = list_page(&m, "b/", None, None, 1000);
        assert_eq!(names(&p), ["b/1", "b/2", "b/c/3"]);
        let p = list_page(&m, "zz", Some("/"), None, 1000);
        assert!(p.entries.is_empty());
    }

    #[test]
    fn listing_pages_through_continuation() {
        let m = map(&["a", "b/1", "b/2", "b/c/3", "c", "d/x", "e"]);
        let mut marker: Option<String> = None;
        let mut all = Vec::new();
        let mut pages = 0;
        loop {
            let p = list_page(&m, "", Some("/"), marker.as_deref(), 2);
            all.extend(names(&p));
            pages += 1;
            if !p.truncated {
                break;
            }
            marker = p.last.clone();
        }
        assert_eq!(all, ["a", "P:b/", "c", "P:d/", "e"]);
        assert_eq!(pages, 3);
        // Without a delimiter, every key once.
        let mut marker: Option<String> = None;
        let mut all = Vec::new();
        loop {
            let p = list_page(&m, "", None, marker.as_deref(), 3);
            all.extend(names(&p));
            if !p.truncated {
                break;
            }
            marker = p.last.clone();
        }
        assert_eq!(all.len(), 7);
        // start-after a key.
        let p = list_page(&m, "", None, Some("b/2"), 1000);
        assert_eq!(names(&p), ["b/c/3", "c", "d/x", "e"]);
        // A marker before the prefix starts at the prefix.
        let p = list_page(&m, "d/", None, Some("a"), 1000);
        assert_eq!(names(&p), ["d/x"]);
        // max 0 reports truncation when anything matches.
        let p = list_page(&m, "", None, None, 0);
        assert!(p.truncated && p.entries.is_empty());
    }

    #[test]
    fn multi_char_delimiter_and_unicode() {
        let m = map(&["x--y--z", "x--w", "é/1", "é/2"]);
        let p = list_page(&m, "x--", Some("--"), None, 10);
        assert_eq!(names(&p), ["x--w", "P:x--y--"]);
        let p = list_page(&m, "", Some("/"), None, 10);
        assert_eq!(names(&p), ["x--w", "x--y--z", "P:é/"]);
    }

    #[test]
    fn hashed_names_never_escape() {
        for key in ["../../etc/passwd", "a\0b", "/abs", "..", &"k".repeat(1024)] {
            let h = key_hash(key);
            assert_eq!(h.len(), 64);
            assert!(h.bytes().all(|b| b.is_ascii_hexdigit()));
        }
        assert!(!safe_bucket_dir(".."));
        assert!(!safe_bucket_dir("a/b"));
        assert!(safe_bucket_dir("my.bucket-1"));
        assert!(!valid_upload_id("../x"));
        assert!(!safe_file_name("../x.data"));
        assert!(!safe_file_name(".hidden"));
    }

    #[tokio::test]
    async fn put_get_delete_survive_reopen_and_clean_orphans() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(ObjectStore::open(dir.path()).unwrap());
        store.create_bucket("b").unwrap();
        let key = "../../../escape\0me";
        let mut tmp = store.temp_file().await.unwrap();
        tokio::io::AsyncWriteExt::write_all(&mut tmp.file, b"hello")
            .await
            .unwrap();
        let meta = ObjectMeta {
            key: key.into(),
            size: 5,
            etag: "5d41402abc4b2a76b9719d911017c592".into(),
            last_modified_ms: 1,
            content_type: "text/plain".into(),
            headers: vec![],
            user_meta: vec![],
            tags: vec![],
            parts: None,
            checksum: None,
            data: String::new(),
        };
        let m = store.commit_object("b", tmp, meta.clone()).await.unwrap();
        let path = store.data_path("b", &m).unwrap();
        assert!(path.starts_with(dir.path().join("objects").join("b")));
        assert_eq!(std::fs::read(&path).unwrap(), b"hello");
        // An interrupted write: a stray data file and a tmp file.
        std::fs::write(
            path.with_file_name(format!("{}.junk.data", key_hash(key))),
            b"x",
        )
        .unwrap();
        std::fs::write(dir.path().join("tmp").join("partial"), b"x").unwrap();
        drop(store);
        let store = Arc::new(ObjectStore::open(dir.path()).unwrap());
        assert_eq!(store.get("b", key).unwrap().etag, meta.etag);
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
            0
        );
        let shard = path.parent().unwrap();
        assert_eq!(std::fs::read_dir(shard).unwrap().count(), 2); // meta + data
        assert!(store.delete("b", key).await.unwrap());
        assert!(store.get("b", key).is_none());
        assert!(!store.delete("b", key).await.unwrap());
        assert!(store.bucket_is_empty("b"));
        assert!(store.data_path("../x", &m).is_err());
    }
}
