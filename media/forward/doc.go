// Package forward decides, per receiver and published track, which packets to send and how to renumber them across simulcast switches.
package forward
