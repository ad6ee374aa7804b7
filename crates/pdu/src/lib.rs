//! SMS TPDU codec (3GPP TS 23.040, alphabets of TS 23.038): encode SMS-SUBMIT, decode SMS-DELIVER,
//! SMS-SUBMIT and SMS-STATUS-REPORT, split and reassemble concatenated messages. Pure: no I/O.
