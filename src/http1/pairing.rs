//! A connection's outstanding exchanges, oldest first, and which of them a
//! response answers.
//!
//! HTTP/1 pairs responses with requests by order: a final response answers
//! the oldest request without one. TCP acknowledgement numbers only correct
//! that order where it cannot be right: a server cannot answer a request it
//! has not received (the veto), and when the capture lost responses, the
//! requests they answered are told apart from pipelined ones by what the
//! client had received when it sent them (the re-pairing).

use crate::exchange::{ExPool, ExRef, Queue};
use crate::wire::SeqNumber;

/// Most requests a connection may have outstanding (pipelined or unanswered).
pub const MAX_PENDING: u32 = 32;

/// Which outstanding request a final response answers.
pub struct Choice {
    /// The oldest outstanding exchanges that will never be answered: emit
    /// them first.
    pub unanswered: u32,
    /// The slot of the answered exchange.
    pub answers: Option<u32>,
}

/// A connection's exchanges whose request has been seen and which have not
/// been emitted yet, oldest first.
#[derive(Debug, Clone, Copy, Default)]
pub struct Pending {
    queue: Queue,
}

impl Pending {
    /// As many as a connection may have: the oldest must go first.
    pub fn is_full(&self) -> bool {
        self.queue.len() >= MAX_PENDING
    }

    /// A new request's exchange, slot `i`.
    pub fn push(&mut self, exs: &mut ExPool, i: u32) {
        self.queue.push(exs, i);
    }

    /// Take the oldest out.
    pub fn pop(&mut self, exs: &ExPool) -> Option<u32> {
        self.queue.pop(exs)
    }

    /// Is the oldest exchange's response over: complete, or (`cut`) the
    /// response being read (`current`) ending short? Responses end in
    /// order, so the oldest goes first.
    pub fn front_answered(&self, exs: &ExPool, current: ExRef, cut: bool) -> bool {
        let Some(i) = self.queue.front() else {
            return false;
        };
        let ex = &exs[i];
        ex.has_resp && (ex.resp.complete || (i == current.index() && cut))
    }

    /// Choose the request a final response answers: the oldest unanswered, unless
    /// acknowledgement numbers show that the capture lost the answers of some
    /// before it. `seq`, `ack`: the response's first byte and what its packet
    /// acknowledged; `resp_gap`: responses were lost since the last one.
    pub fn choose(
        &self,
        exs: &ExPool,
        seq: SeqNumber,
        ack: Option<SeqNumber>,
        resp_gap: bool,
    ) -> Choice {
        let q = &self.queue;
        // The oldest request without a response.
        let Some((pos, (mut i, _))) = q.iter(exs).enumerate().find(|(_, (_, ex))| !ex.has_resp)
        else {
            return Choice {
                unanswered: 0,
                answers: None,
            };
        };
        let Some(ack) = ack else {
            return Choice {
                unanswered: 0,
                answers: Some(i),
            };
        };
        let mut unanswered = 0;
        if pos == 0 {
            // A request sent when the client had received exactly the bytes before
            // this response, and something new since the request before it, is
            // the one this response answers: older ones were answered by bytes
            // the capture lost (pipelined requests share their ACK, so only the
            // first of a batch can match).
            let mut prev_ack: Option<SeqNumber> = None;
            for (k, (j, ex)) in q.iter(exs).enumerate() {
                if ex.has_resp || ex.req_seq >= ack {
                    break;
                }
                if ex.req_ack == Some(seq) && matches!(prev_ack, Some(p) if p < seq) {
                    (i, unanswered) = (j, k as u32);
                }
                prev_ack = ex.req_ack;
            }
            if resp_gap {
                // Responses were lost: skip a request when the server had already
                // received its successor when it sent this response, and the client
                // had received something in between sending the two (so they were
                // not pipelined: the skipped one was answered by lost bytes).
                let mut ex = &exs[i];
                for (n, nx) in q.iter(exs).skip(unanswered as usize + 1) {
                    let answered_between =
                        matches!((ex.req_ack, nx.req_ack), (Some(a), Some(b)) if a < b);
                    if nx.has_resp || nx.req_seq >= ack || !answered_between {
                        break;
                    }
                    // `i` will never get its response.
                    unanswered += 1;
                    (i, ex) = (n, nx);
                }
            }
        }
        // A server cannot answer a request it has not received.
        Choice {
            unanswered,
            answers: (exs[i].req_seq < ack).then_some(i),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A request as the pairing sees it: where it started, what the client
    /// had acknowledged then, and whether it has its response already.
    #[derive(Clone, Copy)]
    struct Req(u32, Option<u32>, bool);

    /// The requests, oldest first, in a pool.
    fn pending(reqs: &[Req]) -> (ExPool, Pending, Vec<u32>) {
        let mut exs = ExPool::new(MAX_PENDING as usize);
        let mut p = Pending::default();
        let mut slots = Vec::new();
        for &Req(seq, ack, has_resp) in reqs {
            let i = exs.take().unwrap().index();
            let ex = &mut exs[i];
            ex.req_seq = SeqNumber(seq);
            ex.req_ack = ack.map(SeqNumber);
            ex.has_resp = has_resp;
            p.push(&mut exs, i);
            slots.push(i);
        }
        (exs, p, slots)
    }

    /// A keep-alive client sends request k (100 bytes) at 1 + 100k once it
    /// has the response to the one before (500 bytes each, at 1 + 500k).
    #[test]
    fn which_request_a_response_answers() {
        let seq_ack = |k: u32| Req(1 + 100 * k, Some(1 + 500 * k), false);
        let answered = |k: u32| Req(1 + 100 * k, Some(1 + 500 * k), true);
        let pipelined = |k: u32| Req(1 + 100 * k, Some(1), false);
        // (requests, response's seq, its ack, responses lost since the
        // last, (unanswered oldest to drop, answered request's position))
        type Case = (Vec<Req>, u32, Option<u32>, bool, (u32, Option<usize>));
        let cases: Vec<Case> = vec![
            (vec![], 1, Some(101), false, (0, None)),
            (vec![answered(0)], 1, Some(101), false, (0, None)),
            // The oldest unanswered.
            (vec![seq_ack(0)], 1, Some(101), false, (0, Some(0))),
            (
                vec![seq_ack(0), seq_ack(1)],
                1,
                Some(201),
                false,
                (0, Some(0)),
            ),
            (
                vec![answered(0), seq_ack(1)],
                501,
                Some(201),
                false,
                (0, Some(1)),
            ),
            // Without an ACK, nothing vetoes or re-pairs.
            (vec![Req(901, None, false)], 1, None, true, (0, Some(0))),
            // Veto: the server had not received the request.
            (vec![seq_ack(1)], 1, Some(101), false, (0, None)),
            (vec![seq_ack(0), seq_ack(1)], 501, Some(1), false, (0, None)),
            // Re-pair: the request sent right after the client had received
            // what precedes this response; the older ones' answers were lost.
            (
                vec![seq_ack(0), seq_ack(1)],
                501,
                Some(201),
                false,
                (1, Some(1)),
            ),
            (
                vec![seq_ack(0), seq_ack(1), seq_ack(2)],
                1001,
                Some(301),
                false,
                (2, Some(2)),
            ),
            (
                vec![seq_ack(0), seq_ack(1), seq_ack(2)],
                501,
                Some(301),
                false,
                (1, Some(1)),
            ),
            // ... but only among requests the server had received,
            (
                vec![seq_ack(0), seq_ack(1)],
                501,
                Some(101),
                false,
                (0, Some(0)),
            ),
            // ... and not when the oldest unanswered is not the oldest,
            (
                vec![answered(0), seq_ack(1), seq_ack(2)],
                1001,
                Some(301),
                false,
                (0, Some(1)),
            ),
            // ... nor within a pipelined batch (one ACK for all).
            (
                vec![pipelined(0), pipelined(1), pipelined(2)],
                1,
                Some(301),
                false,
                (0, Some(0)),
            ),
            // After a response gap: skip requests whose successor the server
            // had received and between which the client had received more.
            (
                vec![seq_ack(0), seq_ack(1)],
                9000,
                Some(201),
                true,
                (1, Some(1)),
            ),
            (
                vec![seq_ack(0), seq_ack(1), seq_ack(2)],
                9000,
                Some(301),
                true,
                (2, Some(2)),
            ),
            (
                vec![seq_ack(0), seq_ack(1), seq_ack(2)],
                9000,
                Some(201),
                true,
                (1, Some(1)),
            ),
            (
                vec![seq_ack(0), seq_ack(1)],
                9000,
                Some(201),
                false,
                (0, Some(0)),
            ),
            (
                vec![seq_ack(0), seq_ack(1)],
                9000,
                Some(101),
                true,
                (0, Some(0)),
            ),
            (
                vec![pipelined(0), pipelined(1)],
                9000,
                Some(201),
                true,
                (0, Some(0)),
            ),
            (
                vec![seq_ack(0), answered(1)],
                9000,
                Some(201),
                true,
                (0, Some(0)),
            ),
        ];
        for (k, (reqs, seq, ack, gap, (unanswered, at))) in cases.into_iter().enumerate() {
            let (exs, p, slots) = pending(&reqs);
            let c = p.choose(&exs, SeqNumber(seq), ack.map(SeqNumber), gap);
            assert_eq!(c.unanswered, unanswered, "case {k}");
            assert_eq!(c.answers, at.map(|a| slots[a]), "case {k}");
        }
    }

    /// The oldest goes once its response is over; a cut response counts as
    /// over only for the response being cut.
    #[test]
    fn oldest_answered() {
        // (has a response, complete, is the response being read, cut, over)
        let cases = [
            (false, false, false, false, false),
            (false, false, true, true, false),
            (true, false, false, false, false),
            (true, true, false, false, true),
            (true, false, true, false, false),
            (true, false, true, true, true),
            (true, false, false, true, false),
        ];
        for (k, (has_resp, complete, current, cut, want)) in cases.into_iter().enumerate() {
            let (mut exs, p, slots) = pending(&[Req(1, Some(1), has_resp), Req(101, None, false)]);
            exs[slots[0]].resp.complete = complete;
            let cur = if current {
                exs.refer(slots[0])
            } else {
                exs.refer(slots[1])
            };
            assert_eq!(p.front_answered(&exs, cur, cut), want, "case {k}");
        }
        let (exs, p, _) = pending(&[]);
        assert!(!p.front_answered(&exs, ExRef::NONE, true));
    }

    #[test]
    fn full_and_in_order() {
        let reqs = vec![Req(1, None, false); MAX_PENDING as usize - 1];
        let (mut exs, mut p, slots) = pending(&reqs);
        assert!(!p.is_full());
        let i = exs.take().unwrap().index();
        p.push(&mut exs, i);
        assert!(p.is_full());
        for &want in slots.iter().chain([&i]) {
            let got = p.pop(&exs).unwrap();
            assert_eq!(got, want);
            assert!(!p.is_full());
        }
        assert_eq!(p.pop(&exs), None);
    }
}
