// Package rtcpreport sends the RTCP sender and receiver reports of one
// PeerConnection (RFC 3550 6.4) as one compound packet per interval, in
// place of pion's report interceptors, which send one packet per stream.
//
// Per local stream it counts what a sender report needs: packets and
// payload octets sent, and the RTP timestamp of the latest frame with the
// time its first packet went out, from which the report's RTP time is
// extrapolated to the report's NTP time. The send path does this with
// atomics only: no lock, no allocation (BenchmarkSendPath).
//
// Per remote stream it keeps what a reception report block needs (RFC 3550
// A.1, A.3, A.8): the extended highest sequence number, cumulative and
// fractional loss, interarrival jitter, and LSR/DLSR from the latest sender
// report received from that SSRC. The receive path takes the stream's own
// mutex, which only the reporter contends for, once an interval.
//
// Every interval it writes one compound packet: the sender reports of the
// local streams that have sent, the first carrying up to 31 report blocks
// for the remote streams heard since the previous report, further blocks in
// receiver reports right after it (RFC 3550 6.4.2), or receiver reports
// alone while it sends nothing. A compound packet that would exceed
// MaxCompoundSize is split into several, each starting with a report.
//
// The interval is RFC 3550's randomised one (6.3.1), with a fixed base
// instead of one derived from the session bandwidth: for a forwarder of
// video the RTCP share of 5% allows far more than one report a second, and
// a second is what RTT and loss figures want. Each interval is drawn
// uniformly from [0.5, 1.5] x DefaultInterval; the first from half that, so
// that the first reports, and RTT, come early. There is no timer
// reconsideration: the membership is one peer.
//
// It writes through the RTCP writer the chain binds, so interceptors bound
// before it (pion's stats interceptor) see its sender reports and can match
// the peer's receiver reports to them for RTT.
package rtcpreport
