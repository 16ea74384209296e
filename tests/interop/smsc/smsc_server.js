'use strict';
// An independent SMSC for the kyso smsc-adapter: npm smpp 0.5.1 acting as server.
//   node smsc_server.js scenario          the interop scenario (exit 0 when every check held)
//   node smsc_server.js bench DELAY_MS    answer every submit_sm after DELAY_MS, nothing else
// Prints "PORT n" once listening on 127.0.0.1 (an ephemeral port).
const smpp = require('smpp');

const mode = process.argv[2] || 'scenario';
const delayMs = Number(process.argv[3] || 0);
const failures = [];
const seen = { enquireFromClient: 0, enquireRespFromClient: 0, dlrAcked: 0, moAcked: 0,
	submits: 0, accepted: 0, throttled: 0 };

function check(cond, what) {
	if (!cond) failures.push(what);
}

function finish(code) {
	console.log(`SERVER ${JSON.stringify(seen)}`);
	for (const f of failures) console.log(`SERVER FAIL ${f}`);
	process.exit(code === 0 && failures.length === 0 ? 0 : 1);
}

// The pySim SJA5 clear+CC PoR (TELECOM.md 2.5) as the card's answer, UDH included.
const por = Buffer.from('027100001612b0001100000000000000b5bcd6353a421fae016132', 'hex');

function scenarioSubmit(session, pdu) {
	seen.submits++;
	check(pdu.esm_class & 0x40, 'submit without UDHI');
	check(pdu.protocol_id === 0x7f, 'protocol_id not 7F');
	check(pdu.data_coding === 0xf6, 'data_coding not F6');
	check(pdu.registered_delivery === 1, 'registered_delivery not 01');
	if (seen.submits === 2) {
		seen.throttled++;
		session.send(pdu.response({ command_status: 0x58 })); // header only
		return;
	}
	const id = 0x1A2B3C + seen.accepted;
	const hex = id.toString(16).toUpperCase();
	seen.accepted++;
	session.send(pdu.response({ message_id: hex }));
	const text = `id:${id} sub:001 dlvrd:001 submit date:2401011200 done date:2401011201 ` +
		'stat:DELIVRD err:000 text:';
	const dlr = { source_addr_ton: 1, source_addr_npi: 1, source_addr: pdu.destination_addr,
		dest_addr_ton: 1, dest_addr_npi: 1, destination_addr: pdu.source_addr, esm_class: 4,
		short_message: Buffer.from(text) };
	if (seen.accepted === 1) { // the first DLR carries the TLVs, the others only the decimal id
		dlr.receipted_message_id = hex;
		dlr.message_state = 2;
	}
	session.deliver_sm(dlr, (r) => {
		check(r.command_status === 0, 'DLR not acked 00');
		seen.dlrAcked++;
	});
	if (seen.accepted === 3) {
		session.deliver_sm({ source_addr_ton: 1, source_addr_npi: 1,
			source_addr: pdu.destination_addr, dest_addr_ton: 1, dest_addr_npi: 1,
			destination_addr: pdu.source_addr, esm_class: 0x40, protocol_id: 0x7f,
			data_coding: 0xf6, short_message: por }, (r) => {
			check(r.command_status === 0, 'MO not acked 00');
			seen.moAcked++;
		});
	}
}

const server = smpp.createServer((session) => {
	session.socket.setNoDelay(true);
	session.on('error', (e) => { failures.push(`session error ${e.message}`); finish(1); });
	session.on('bind_transceiver', (pdu) => {
		check(pdu.system_id === 'gw' && pdu.password === 'pw', 'bind credentials');
		session.send(pdu.response({ system_id: 'SIMSMSC' }));
		if (mode === 'scenario') {
			setTimeout(() => session.enquire_link({}, () => { seen.enquireRespFromClient++; }), 100);
		}
	});
	session.on('enquire_link', (pdu) => {
		seen.enquireFromClient++;
		session.send(pdu.response());
	});
	session.on('submit_sm', (pdu) => {
		if (mode === 'bench') {
			setTimeout(() => {
				session.send(pdu.response({ message_id: (++seen.accepted).toString(16) }));
			}, delayMs);
			return;
		}
		scenarioSubmit(session, pdu);
	});
	session.on('unbind', (pdu) => {
		session.send(pdu.response(), () => {
			if (mode === 'scenario') {
				check(seen.accepted === 3, 'three submits accepted');
				check(seen.throttled === 1, 'one throttled');
				check(seen.dlrAcked === 3, 'three DLRs acked');
				check(seen.moAcked === 1, 'MO acked');
				check(seen.enquireFromClient >= 1, 'enquire_link from the client');
				check(seen.enquireRespFromClient === 1, 'enquire_link_resp from the client');
				session.close();
				finish(0);
			} else {
				session.close();
			}
		});
	});
	session.on('close', () => {
		if (mode === 'scenario') {
			failures.push('closed before unbind');
			finish(1);
		}
	});
});

server.listen(0, '127.0.0.1', () => {
	console.log(`PORT ${server.address().port}`);
});
setTimeout(() => { failures.push('timeout'); finish(1); }, mode === 'bench' ? 600000 : 30000);
