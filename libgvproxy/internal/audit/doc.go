// Package audit is the one place a network reports what its guest did and was refused:
// every denial (egress policy, destination guard, DNS screen, and any later refusal such
// as a secret used for the wrong host) goes through Auditor.Deny, which counts it in
// `policy.denied`, logs it at debug with its reason code, and queues a `connection` or
// `dns` event when a listener of that type exists. Connections the network proxies report
// their open and close through Auditor.Open and Flow.Close; the guest's link reports
// connects and disconnects through Auditor.Guest.
//
// Events are plain data (JSON-safe) queued in a bounded FIFO per network, drained by the
// JS thread through the same pump as logs (gvproxy_drain_events). Nothing is built for
// an event type no listener subscribed to (Subscribe sets the mask); a full queue drops
// the event and counts it (`events.dropped`). The queue is one FIFO, so the events of
// one connection arrive in order.
package audit
