//! The lab: a fault-injection range on loopback (DNS, SMTP) that is the test
//! harness and the offline demo at once.
