//! Doubly linked lists threaded through slot indices (no allocation).

pub const NIL: u32 = u32::MAX;

#[derive(Clone, Copy, Debug)]
pub struct Links {
    pub prev: u32,
    pub next: u32,
}

impl Default for Links {
    fn default() -> Self {
        Links {
            prev: NIL,
            next: NIL,
        }
    }
}

/// One list over a `[Links]` array: head is the oldest entry.
#[derive(Clone, Copy, Debug)]
pub struct List {
    pub head: u32,
    pub tail: u32,
}

impl Default for List {
    fn default() -> Self {
        List {
            head: NIL,
            tail: NIL,
        }
    }
}

impl List {
    pub fn push_back(&mut self, links: &mut [Links], idx: u32) {
        links[idx as usize] = Links {
            prev: self.tail,
            next: NIL,
        };
        if self.tail == NIL {
            self.head = idx;
        } else {
            links[self.tail as usize].next = idx;
        }
        self.tail = idx;
    }

    pub fn unlink(&mut self, links: &mut [Links], idx: u32) {
        let Links { prev, next } = links[idx as usize];
        if prev == NIL {
            self.head = next;
        } else {
            links[prev as usize].next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            links[next as usize].prev = prev;
        }
        links[idx as usize] = Links::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(list: &List, links: &[Links]) -> Vec<u32> {
        let mut out = Vec::new();
        let mut i = list.head;
        while i != NIL {
            out.push(i);
            i = links[i as usize].next;
        }
        out
    }

    #[test]
    fn push_unlink_move() {
        let mut links = vec![Links::default(); 4];
        let mut list = List::default();
        for i in 0..4 {
            list.push_back(&mut links, i);
        }
        list.unlink(&mut links, 2);
        assert_eq!(collect(&list, &links), [0, 1, 3]);
        list.unlink(&mut links, 0);
        list.push_back(&mut links, 0);
        assert_eq!(collect(&list, &links), [1, 3, 0]);
        list.unlink(&mut links, 1);
        list.unlink(&mut links, 0);
        list.unlink(&mut links, 3);
        assert_eq!(list.head, NIL);
        assert_eq!(list.tail, NIL);
    }
}
