// Package console is the node's live terminal dashboard, drawn in the node's
// own process and served to authorised viewers over SSH.
//
// # Views
//
// The header shows the node, its region, uptime, CPU, bitrate in and out,
// participants and cascade peers (as up/all when some are down); the footer
// lists the keys of the view. A console opened with Options.Hint shows that
// line under the tabs in every view (the demo's browser URL). A console given several nodes (Options.Nodes,
// as the demo does) shows one at a time, and its header says which: "node
// 2/3 eu-west". A node whose Source fails (Health.Err, a panic, or an empty
// snapshot) is marked DOWN under a red banner, with its last state kept on
// screen; the console goes on.
//
//  1. Conferences: one row per room (participants, nodes, bitrate, dominant
//     speaker, worst loss).
//  2. Conference: the participants of the selected room (region, node, RTT to
//     the node, worst end-to-end RTT, loss up and down, bitrate up and down,
//     simulcast layers q/h/f with ● active or ○ paused, layer cap; ● in the
//     first column means speaking, × audio muted by an operator, ⇄ after a
//     name that the participant is hosted by another node of the cascade).
//  3. Participant: its region and node (⇄ remote when another node hosts
//     it); its subscriptions with the forwarded layer, the target layer and
//     the reason; its end-to-end RTT to every other participant with the
//     path and the hops; sparklines of bitrate and loss over the last minute.
//  4. Cascade: the relay links to other nodes, one row each: region, state
//     (up, down, drain), participants and stress as the peer gossips them,
//     relay RTT and loss, bitrate each way, video bytes sent per layer
//     q/h/f, SAVED (the share of video not sent because nobody behind the
//     link needed that layer), NACKs sent/answered/repaired, the emulated
//     impairment, address and shared conferences. Then the relay's dropped
//     datagrams by reason, and, for the selected conference, every pair of
//     participants with its path, its hops client+relay+peer, their sum
//     (COMPUTED), the clients' own ping (MEASURED) and the difference. On a
//     node without a cascade the view says so and points to README: Cascade.
//  5. Log: the node's recent log records.
//
// # Keys
//
//	tab / shift+tab   next / previous view
//	1 … 5             go to a view
//	[ / ]             previous / next node (only with several nodes)
//	↑ ↓  k j          move the cursor (scroll in Participant, Cascade, Log)
//	pgup pgdn g G     page up, page down, top, bottom
//	enter             open the room / participant under the cursor
//	esc               back (Participant → Conference → Conferences)
//	s / S             Conference: sort by the next column / reverse the order
//	/                 Conference: filter by name, id, region or node
//	                  (enter keeps the filter, esc clears it)
//	x                 remove (kick) the participant            (confirmed)
//	c                 cap the video layer it receives: q h f, n = no cap (confirmed)
//	m                 mute / unmute its audio forwarding        (confirmed)
//	R                 Conference: start / stop the server recording (confirmed)
//	D                 drain the shown node / stop draining      (confirmed)
//	l                 Log: cycle the least level shown (DEBUG, INFO, WARN, ERROR)
//	q, ctrl+c         quit (confirmed); locally this stops the node, over
//	                  SSH it closes only that viewer's session
//
// Confirmations take y to go ahead and n or esc to cancel. Every confirmed
// action is logged with the viewer ("local" or the SSH key's fingerprint),
// and, with several nodes, the node it went to.
//
// Colours follow the viewer's terminal: with NO_COLOR set or TERM=dumb the
// console draws plain text.
package console
