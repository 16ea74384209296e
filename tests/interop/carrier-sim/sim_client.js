'use strict';
// An independent ESME against kyso-carrier-sim: npm smpp 0.5.1 as client (TELECOM.md 5.7).
//   node sim_client.js PORT
// bind_transceiver, enquire_link, a binary OTA submit_sm to a profile-00 number (hex
// message_id, then a DLR DELIVRD whose receipted_message_id is that id and whose text id is
// its decimal form), a submit_sm to an unknown number (0x0B), a wrong password (0x0E) on a
// second link, then unbind. Exit 0 when every check held.
const smpp = require('smpp');

const port = Number(process.argv[2]);
const failures = [];
const seen = {};
function check(cond, what) {
	if (!cond) failures.push(what);
}
function finish() {
	console.log(`CLIENT ${JSON.stringify(seen)}`);
	for (const f of failures) console.log(`CLIENT FAIL ${f}`);
	process.exit(failures.length === 0 ? 0 : 1);
}
const timer = setTimeout(() => {
	failures.push('timeout');
	finish();
}, 20000);

// An OTA command packet the card will refuse (not deciphered with its keys): the SMSC still
// delivers it, so a DLR DELIVRD follows.
const ud = Buffer.from('02700000150d16393535' + '4b5953' + '00000000010000000000000000', 'hex');
const ota = {
	source_addr_ton: 1, source_addr_npi: 1, source_addr: '8490999',
	dest_addr_ton: 1, dest_addr_npi: 1, esm_class: 0x40, protocol_id: 0x7f, data_coding: 0xf6,
	registered_delivery: 1, short_message: ud,
};

function wrongPassword(next) {
	const s2 = smpp.connect({ url: `smpp://127.0.0.1:${port}`, auto_enquire_link_period: 0 });
	s2.bind_transceiver({ system_id: 'kyso', password: 'nope' }, (pdu) => {
		seen.wrongPassword = pdu.command_status;
		check(pdu.command_status === 0x0e, `wrong password: status ${pdu.command_status}`);
		s2.close();
		next();
	});
}

const session = smpp.connect({ url: `smpp://127.0.0.1:${port}`, auto_enquire_link_period: 0 });
let submittedId = null;
let dlrDone = false;
let unknownDone = false;

function maybeUnbind() {
	if (!dlrDone || !unknownDone) return;
	wrongPassword(() => {
		session.unbind({}, (pdu) => {
			seen.unbind = pdu.command_status;
			check(pdu.command_status === 0, 'unbind_resp status');
			clearTimeout(timer);
			session.close();
			finish();
		});
	});
}

session.on('deliver_sm', (pdu) => {
	session.send(pdu.response());
	if ((pdu.esm_class & 0x3c) !== 0x04) return;
	const text = Buffer.isBuffer(pdu.short_message.message) ? pdu.short_message.message.toString()
		: String(pdu.short_message.message || pdu.short_message);
	seen.dlr = text;
	const rid = pdu.receipted_message_id;
	check(rid === submittedId, `receipted_message_id ${rid} != ${submittedId}`);
	check(pdu.message_state === 2, `message_state ${pdu.message_state}`);
	check(text.includes(`id:${parseInt(submittedId, 16)} `), 'DLR text id is not decimal');
	check(text.includes('stat:DELIVRD'), 'DLR not DELIVRD');
	dlrDone = true;
	maybeUnbind();
});
session.on('error', (e) => {
	failures.push(`session error ${e.message}`);
	finish();
});

session.bind_transceiver({ system_id: 'kyso', password: 'kyso' }, (pdu) => {
	seen.bind = pdu.command_status;
	check(pdu.command_status === 0, 'bind status');
	check(pdu.system_id === 'KYSOSIM', `system_id ${pdu.system_id}`);
	session.enquire_link({}, (el) => {
		seen.enquire = el.command_status;
		check(el.command_status === 0, 'enquire_link_resp status');
		session.submit_sm({ ...ota, destination_addr: '84900000001' }, (r) => {
			seen.submit = r.command_status;
			submittedId = r.message_id;
			check(r.command_status === 0, `submit status ${r.command_status}`);
			check(/^[0-9A-F]+$/.test(r.message_id), `message_id ${r.message_id} not hex`);
			session.submit_sm({ ...ota, destination_addr: '84999000000' }, (u) => {
				seen.unknown = u.command_status;
				check(u.command_status === 0x0b, `unknown number: status ${u.command_status}`);
				unknownDone = true;
				maybeUnbind();
			});
		});
	});
});
