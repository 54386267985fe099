//! Reads a BPF ring buffer through its memory map, as libbpf does, but
//! hands the space back to the kernel once per stretch of records rather
//! than after each one. The consumer position lives on a cache line the
//! producing CPU reads on every reservation: releasing per record writes
//! that line hundreds of thousands of times a second, and each write makes
//! the next traced syscall on the producing CPU wait for the line to come
//! back from the reading CPU.
#![allow(unsafe_code)]

use std::os::fd::BorrowedFd;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use rustix::mm::{MapFlags, ProtFlags, mmap, munmap};

/// Set in a record's length while the producer is still writing it.
const BUSY: u32 = 1 << 31;
/// Set in a record's length when the producer gave it up.
const DISCARD: u32 = 1 << 30;
/// Bytes before each record: its length word and the kernel's page offset.
const RECORD_HEADER: u64 = 8;
/// Most bytes read before the space is handed back, so that a long read
/// never keeps a small ring looking full to the producer.
const RELEASE_EVERY: u64 = 64 << 10;

/// One mapped ring buffer, read by one thread.
#[derive(Debug)]
pub(crate) struct RingReader {
    /// The consumer page (read-write): the consumer position at offset 0.
    consumer: NonNull<u8>,
    /// The producer page (read-only), followed by the data pages mapped
    /// twice in a row, so that a record that wraps around is contiguous.
    producer: NonNull<u8>,
    page: usize,
    size: usize,
    /// How much to read before releasing: a quarter of a small ring.
    release_every: u64,
}

// SAFETY: the reader owns its mappings; nothing else in the process holds
// pointers into them, so moving it to another thread is sound.
unsafe impl Send for RingReader {}

impl RingReader {
    /// Maps the ring buffer map `fd` of `size` data bytes (a power of two
    /// pages, as created).
    pub(crate) fn new(fd: BorrowedFd<'_>, size: usize) -> std::io::Result<Self> {
        let page = rustix::param::page_size();
        // SAFETY: a fresh shared mapping of the map's consumer page, which
        // the kernel lets user space write; no Rust reference aliases it.
        let consumer = unsafe {
            mmap(
                std::ptr::null_mut(),
                page,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::SHARED,
                fd,
                0,
            )
        }?;
        // SAFETY: as above, the read-only producer page and data pages,
        // which the kernel maps twice in a row after the producer page.
        let producer = unsafe {
            mmap(
                std::ptr::null_mut(),
                page + 2 * size,
                ProtFlags::READ,
                MapFlags::SHARED,
                fd,
                page as u64,
            )
        };
        let producer = match producer {
            Ok(producer) => producer,
            Err(error) => {
                // SAFETY: the consumer page mapped just above, unused since.
                let _ = unsafe { munmap(consumer, page) };
                return Err(error.into());
            }
        };
        Ok(RingReader {
            consumer: NonNull::new(consumer.cast()).expect("mmap never returns null"),
            producer: NonNull::new(producer.cast()).expect("mmap never returns null"),
            page,
            size,
            release_every: RELEASE_EVERY.min(size as u64 / 4).max(RECORD_HEADER),
        })
    }

    fn consumer_pos(&self) -> &AtomicU64 {
        // SAFETY: offset 0 of the consumer page is the kernel's 8-byte
        // aligned consumer position, mapped for as long as `self` lives.
        unsafe { AtomicU64::from_ptr(self.consumer.as_ptr().cast()) }
    }

    fn producer_pos(&self) -> &AtomicU64 {
        // SAFETY: offset 0 of the producer page is the kernel's 8-byte
        // aligned producer position, mapped for as long as `self` lives.
        unsafe { AtomicU64::from_ptr(self.producer.as_ptr().cast()) }
    }

    /// Calls `sample` with each sample committed to the ring, oldest first,
    /// until `max` records have been read; `sample` says how many records
    /// it held. Returns the records read. A sample the producer is still
    /// writing ends the read: it comes next time.
    pub(crate) fn read(&mut self, max: usize, mut sample: impl FnMut(&[u8]) -> usize) -> usize {
        let mask = self.size as u64 - 1;
        let start = self.consumer_pos().load(Ordering::Acquire);
        let mut pos = start;
        let mut released = start;
        let mut count = 0;
        let mut end = self.producer_pos().load(Ordering::Acquire);
        while count < max {
            if pos >= end {
                // Caught up: records committed meanwhile are read too.
                end = self.producer_pos().load(Ordering::Acquire);
                if pos >= end {
                    break;
                }
            }
            let offset = self.page + (pos & mask) as usize;
            // SAFETY: `offset` is inside the first copy of the data pages,
            // at an 8-byte aligned record header the producer publishes
            // with a release store of its length word.
            let header = unsafe { self.producer.as_ptr().add(offset) };
            // SAFETY: as above; the word is only read, atomically.
            let len = unsafe { AtomicU32::from_ptr(header.cast()) }.load(Ordering::Acquire);
            if len & BUSY != 0 {
                break;
            }
            let data_len = (len & !DISCARD) as usize;
            if data_len > self.size {
                // Not a record the kernel wrote: stop rather than read
                // beyond the mapping.
                break;
            }
            if len & DISCARD == 0 {
                // SAFETY: the record's bytes follow its header and are
                // committed (not busy); thanks to the double mapping they
                // are contiguous even when they wrap, and the kernel does
                // not reuse them before the consumer position passes them.
                let bytes = unsafe {
                    std::slice::from_raw_parts(header.add(RECORD_HEADER as usize), data_len)
                };
                count += sample(bytes);
            }
            pos += (data_len as u64 + RECORD_HEADER).next_multiple_of(8);
            if pos - released >= self.release_every {
                self.consumer_pos().store(pos, Ordering::Release);
                released = pos;
            }
        }
        if pos != released {
            self.consumer_pos().store(pos, Ordering::Release);
        }
        count
    }
}

impl Drop for RingReader {
    fn drop(&mut self) {
        // SAFETY: the two mappings made by `new`, with their lengths; no
        // slice into them outlives a `read` call.
        unsafe {
            let _ = munmap(self.consumer.as_ptr().cast(), self.page);
            let _ = munmap(self.producer.as_ptr().cast(), self.page + 2 * self.size);
        }
    }
}
