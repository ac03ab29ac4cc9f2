//! Per-entity state and the entity store of one key field: a hash index into a slab of entities
//! threaded on an intrusive doubly-linked list in least-recently-used order, so lookup, touch,
//! insertion and eviction are O(1) and allocation-free once the slab is warm.

use foldhash::HashMap;

use serde::{Deserialize, Serialize};

use super::spec::KeyPlan;
use super::windows::{Buffer, GroupState};

const NIL: u32 = u32::MAX;

/// The state of one entity (one value of one key field).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Entity {
    pub buf: Buffer,
    pub groups: Vec<GroupState>,
}

impl Entity {
    pub fn new(kp: &KeyPlan) -> Self {
        Entity {
            buf: Buffer::new(kp.cols.len()),
            groups: kp.groups.iter().map(GroupState::new).collect(),
        }
    }

    /// Newest event time, if any.
    #[inline]
    pub fn newest(&self) -> Option<i64> {
        self.buf.newest()
    }

    /// Set the label of the retained events whose id column holds `tag` to `label`, updating
    /// the windows that hold them. Returns whether any was found.
    pub fn relabel(
        &mut self,
        kp: &KeyPlan,
        id_col: usize,
        label_col: usize,
        tag: u64,
        label: f64,
    ) -> bool {
        let mut found = false;
        for i in (0..self.buf.len()).rev() {
            if self.buf.word(i, id_col) != tag {
                continue;
            }
            found = true;
            let old = self.buf.f(i, label_col);
            if old.to_bits() != label.to_bits() {
                self.buf.set_word(i, label_col, label.to_bits());
                for (g, gp) in self.groups.iter_mut().zip(&kp.groups) {
                    g.relabel(gp, i, label_col, old, label);
                }
            }
        }
        found
    }

    /// Whether the shapes match the plan (used to validate restored snapshots).
    pub fn fits(&self, kp: &KeyPlan) -> bool {
        let n = self.buf.len();
        n > 0
            && self.buf.fits(kp.cols.len())
            && self.buf.is_sorted()
            && self.groups.len() == kp.groups.len()
            && self
                .groups
                .iter()
                .zip(&kp.groups)
                .all(|(g, gp)| g.consistent(gp, &self.buf))
    }
}

/// A key string, stored inline when it has at most 22 bytes, so that an index probe compares
/// bytes in the hash table itself instead of following a pointer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SmallKey {
    Inline { len: u8, bytes: [u8; 22] },
    Heap(Box<[u8]>),
}

impl SmallKey {
    pub fn new(s: &[u8]) -> Self {
        if s.len() <= 22 {
            let mut bytes = [0u8; 22];
            bytes[..s.len()].copy_from_slice(s);
            SmallKey::Inline {
                len: s.len() as u8,
                bytes,
            }
        } else {
            SmallKey::Heap(s.into())
        }
    }

    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            SmallKey::Inline { len, bytes } => &bytes[..*len as usize],
            SmallKey::Heap(b) => b,
        }
    }
}

impl std::hash::Hash for SmallKey {
    #[inline]
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        // Must hash exactly like the `[u8]` it borrows as.
        self.as_bytes().hash(h);
    }
}

impl std::borrow::Borrow<[u8]> for SmallKey {
    #[inline]
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl Serialize for SmallKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_bytes(self.as_bytes())
    }
}

impl<'de> Deserialize<'de> for SmallKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let v: serde_bytes_compat::Bytes = Deserialize::deserialize(d)?;
        Ok(SmallKey::new(&v.0))
    }
}

mod serde_bytes_compat {
    //! Deserialise a byte string written by `serialize_bytes`.
    pub struct Bytes(pub Vec<u8>);

    impl<'de> serde::Deserialize<'de> for Bytes {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> serde::de::Visitor<'de> for V {
                type Value = Bytes;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("a byte string")
                }
                fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Bytes, E> {
                    Ok(Bytes(v.to_vec()))
                }
                fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Bytes, E> {
                    Ok(Bytes(v))
                }
                fn visit_seq<A: serde::de::SeqAccess<'de>>(
                    self,
                    mut a: A,
                ) -> Result<Bytes, A::Error> {
                    let mut out = Vec::new();
                    while let Some(b) = a.next_element::<u8>()? {
                        out.push(b);
                    }
                    Ok(Bytes(out))
                }
            }
            d.deserialize_bytes(V)
        }
    }
}

/// How an entity key is held: raw, or only as a keyed hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum StoredKey {
    Vacant,
    Raw(SmallKey),
    Hashed(u128),
}

/// A key to look up.
#[derive(Debug, Clone, Copy)]
pub(crate) enum KeyRef<'a> {
    Raw(&'a str),
    Hashed(u128),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Slot {
    key: StoredKey,
    entity: Entity,
}

/// Serialise map entries in key order. Hash-map iteration order is random (per map), and equal
/// states must give equal snapshot bytes. The format is serde's map, so the derived
/// deserialisation reads it. (Ordered by inserting into a B-tree: a slice sort would add ~35 KB of
/// sorting code to the WASM package.)
pub(crate) fn serialize_sorted<K, V, S>(
    entries: impl Iterator<Item = (K, V)>,
    s: S,
) -> std::result::Result<S::Ok, S::Error>
where
    K: Ord + Serialize,
    V: Serialize,
    S: serde::Serializer,
{
    let mut sorted = std::collections::BTreeMap::new();
    for (k, v) in entries {
        sorted.insert(k, v);
    }
    s.collect_map(sorted)
}

fn raw_index_sorted<S: serde::Serializer>(
    m: &HashMap<SmallKey, u32>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    // Keys are written as bytes (see `SmallKey`'s `Serialize`), so byte order is key order.
    serialize_sorted(m.iter().map(|(k, v)| (k.as_bytes(), v)), s)
}

fn hashed_index_sorted<S: serde::Serializer>(
    m: &HashMap<u128, u32>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    serialize_sorted(m.iter(), s)
}

/// The entities of one key field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Store {
    #[serde(serialize_with = "raw_index_sorted")]
    raw: HashMap<SmallKey, u32>,
    #[serde(serialize_with = "hashed_index_sorted")]
    hashed: HashMap<u128, u32>,
    slots: Vec<Slot>,
    /// `[prev, next]` of each slot in the recency list, kept apart from the (large) slots so that
    /// relinking touches one small array.
    links: Vec<[u32; 2]>,
    free: Vec<u32>,
    /// Most recently used.
    head: u32,
    /// Least recently used.
    tail: u32,
    len: usize,
    /// Newest event time of each slot's entity (`i64::MIN` while it has none), kept apart from
    /// the slots so that TTL sweeps and batch planning never touch entity state. Rebuilt from the
    /// entities on restore.
    #[serde(skip)]
    newest: Vec<i64>,
}

impl Default for Store {
    fn default() -> Self {
        Store {
            raw: HashMap::default(),
            hashed: HashMap::default(),
            slots: vec![],
            links: vec![],
            free: vec![],
            head: NIL,
            tail: NIL,
            len: 0,
            newest: vec![],
        }
    }
}

impl Store {
    /// Number of entities.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn find(&self, k: KeyRef<'_>) -> Option<u32> {
        match k {
            KeyRef::Raw(s) => self.raw.get(s.as_bytes()).copied(),
            KeyRef::Hashed(h) => self.hashed.get(&h).copied(),
        }
    }

    #[inline]
    pub fn entity_mut(&mut self, i: u32) -> &mut Entity {
        &mut self.slots[i as usize].entity
    }

    /// Move entity `i`'s state out, leaving an empty placeholder.
    pub fn take_entity(&mut self, i: u32) -> Entity {
        std::mem::take(&mut self.slots[i as usize].entity)
    }

    /// Newest event time of entity `i` (`i64::MIN` if it has none yet).
    #[inline]
    pub fn newest(&self, i: u32) -> i64 {
        self.newest[i as usize]
    }

    /// Record that entity `i` processed an event at time `t`.
    #[inline]
    pub fn saw(&mut self, i: u32, t: i64) {
        let n = &mut self.newest[i as usize];
        *n = (*n).max(t);
    }

    /// Forget entity `i`'s newest time (its state was reset).
    #[inline]
    pub fn reset_newest(&mut self, i: u32) {
        self.newest[i as usize] = i64::MIN;
    }

    /// Rebuild the newest-time index from the entities (after deserialising).
    pub fn rebuild_newest(&mut self) {
        self.newest = self
            .slots
            .iter()
            .map(|s| s.entity.newest().unwrap_or(i64::MIN))
            .collect();
    }

    /// The least recently used entity.
    pub fn lru(&self) -> Option<u32> {
        (self.tail != NIL).then_some(self.tail)
    }

    fn unlink(&mut self, i: u32) {
        let [p, n] = self.links[i as usize];
        if p == NIL {
            self.head = n;
        } else {
            self.links[p as usize][1] = n;
        }
        if n == NIL {
            self.tail = p;
        } else {
            self.links[n as usize][0] = p;
        }
    }

    fn push_front(&mut self, i: u32) {
        let old = self.head;
        self.links[i as usize] = [NIL, old];
        if old == NIL {
            self.tail = i;
        } else {
            self.links[old as usize][0] = i;
        }
        self.head = i;
    }

    /// Mark entity `i` as most recently used.
    #[inline]
    pub fn touch(&mut self, i: u32) {
        if self.head != i {
            self.unlink(i);
            self.push_front(i);
        }
    }

    /// Insert a new entity as most recently used; the key must not be present.
    pub fn insert(&mut self, k: KeyRef<'_>, entity: Entity) -> u32 {
        let key = match k {
            KeyRef::Raw(s) => StoredKey::Raw(SmallKey::new(s.as_bytes())),
            KeyRef::Hashed(h) => StoredKey::Hashed(h),
        };
        let slot = Slot { key, entity };
        let i = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = slot;
                self.newest[i as usize] = i64::MIN;
                i
            }
            None => {
                self.slots.push(slot);
                self.links.push([NIL, NIL]);
                self.newest.push(i64::MIN);
                (self.slots.len() - 1) as u32
            }
        };
        match k {
            KeyRef::Raw(s) => self.raw.insert(SmallKey::new(s.as_bytes()), i),
            KeyRef::Hashed(h) => self.hashed.insert(h, i),
        };
        self.push_front(i);
        self.len += 1;
        i
    }

    /// Remove entity `i`.
    pub fn remove(&mut self, i: u32) {
        self.unlink(i);
        let slot = &mut self.slots[i as usize];
        match std::mem::replace(&mut slot.key, StoredKey::Vacant) {
            StoredKey::Raw(s) => {
                self.raw.remove(s.as_bytes());
            }
            StoredKey::Hashed(h) => {
                self.hashed.remove(&h);
            }
            StoredKey::Vacant => {}
        }
        slot.entity = Entity::default();
        self.newest[i as usize] = i64::MIN;
        self.free.push(i);
        self.len -= 1;
    }

    /// Check the internal links and shapes (used to validate restored snapshots).
    pub fn is_consistent(&self, kp: &KeyPlan) -> bool {
        let n = self.slots.len();
        if self.raw.len() + self.hashed.len() != self.len || self.len + self.free.len() != n {
            return false;
        }
        let ok_index =
            |i: u32, key: StoredKey| (i as usize) < n && self.slots[i as usize].key == key;
        if !self
            .raw
            .iter()
            .all(|(k, &i)| ok_index(i, StoredKey::Raw(k.clone())))
            || !self
                .hashed
                .iter()
                .all(|(&h, &i)| ok_index(i, StoredKey::Hashed(h)))
        {
            return false;
        }
        // Walk the list from the head: it must visit every live slot once and end at the tail.
        if self.links.len() != n || self.newest.len() != n {
            return false;
        }
        let mut seen = 0usize;
        let mut prev = NIL;
        let mut cur = self.head;
        while cur != NIL {
            if cur as usize >= n || seen >= self.len {
                return false;
            }
            let s = &self.slots[cur as usize];
            let [p, next] = self.links[cur as usize];
            if p != prev || s.key == StoredKey::Vacant || !s.entity.fits(kp) {
                return false;
            }
            seen += 1;
            prev = cur;
            cur = next;
        }
        seen == self.len
            && prev == self.tail
            && self
                .free
                .iter()
                .all(|&i| (i as usize) < n && self.slots[i as usize].key == StoredKey::Vacant)
    }

    /// Approximate heap bytes held by the entities (buffers, windows, index).
    pub fn approx_bytes(&self) -> usize {
        let per_slot = std::mem::size_of::<Slot>();
        let mut total = self.slots.capacity() * per_slot
            + self.raw.capacity() * (std::mem::size_of::<(SmallKey, u32)>() + 1)
            + self.hashed.capacity() * (std::mem::size_of::<(u128, u32)>() + 1)
            + self.links.capacity() * 8
            + self.newest.capacity() * 8;
        for s in &self.slots {
            if let StoredKey::Raw(SmallKey::Heap(k)) = &s.key {
                total += 2 * k.len();
            }
            let e = &s.entity;
            total += e.buf.heap_bytes();
            total += e.groups.capacity() * std::mem::size_of::<GroupState>();
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> KeyPlan {
        KeyPlan::new(0)
    }

    #[test]
    fn lru_order_and_reuse() {
        let kp = plan();
        let mut s = Store::default();
        let mut e = Entity::new(&kp);
        e.buf.push(1, &[]);
        let a = s.insert(KeyRef::Raw("a"), e.clone());
        let b = s.insert(KeyRef::Raw("b"), e.clone());
        let c = s.insert(KeyRef::Hashed(7), e.clone());
        assert_eq!(s.lru(), Some(a));
        s.touch(a);
        assert_eq!(s.lru(), Some(b));
        s.remove(b);
        assert_eq!(s.lru(), Some(c));
        assert_eq!(s.find(KeyRef::Raw("b")), None);
        let d = s.insert(KeyRef::Raw("d"), e);
        assert_eq!(d, b, "slot reused");
        assert_eq!(s.len(), 3);
        assert!(s.is_consistent(&kp));
        assert_eq!(s.find(KeyRef::Hashed(7)), Some(c));
    }
}
