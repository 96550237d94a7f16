"""A local SMTP server for the mail tests (aiosmtpd).

    server.py OUTDIR [--tls starttls|implicit] [--user USER --password PASSWORD]

Listens on 127.0.0.1 at a free port and prints that port on its first line of output. Each
accepted message is written to OUTDIR as one JSON file ({"mail_from", "rcpt_tos", "data",
"tls" (whether the message came over TLS), "login" (the user it authenticated as, or null),
and as the standard library's MIME parser reads it: "headers", "content_type" and "parts"
with each leaf part's "content_type" and decoded "content"}),
written whole then renamed, so a reader never sees half a message. A recipient whose local
part starts with "reject" is refused with 550 (a permanent failure) and the refusal is
written to OUTDIR as a "refused-*.json" file. Every EHLO is written as an "ehlo-*.json" file
({"hostname", "tls"}), so a test can tell that a client came and what it did before leaving.

With --tls, a throw-away certificate authority (trustme) issues the server a certificate for
127.0.0.1 and its certificate is written to OUTDIR/ca.pem before the port is printed:
"starttls" offers STARTTLS and refuses any command but EHLO, NOOP, QUIT and STARTTLS before
it; "implicit" speaks TLS from the first byte (smtps). With --user and --password, AUTH
(PLAIN, LOGIN) is offered over TLS only and required before MAIL; each try is written as an
"auth-*.json" file ({"login", "success", "tls"}). The server stops when its standard input
closes, so it never outlives the test that started it.
"""

import argparse
import asyncio
import email
import email.policy
import itertools
import json
import os
import ssl
import sys
import warnings

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

counter = itertools.count()


def over_tls(server):
    return server.transport is not None and server.transport.get_extra_info("ssl_object") is not None


class Handler:
    def __init__(self, outdir):
        self.outdir = outdir

    def write(self, prefix, record):
        n = next(counter)
        tmp = os.path.join(self.outdir, f".{prefix}-{n}.tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(record, f)
        os.replace(tmp, os.path.join(self.outdir, f"{prefix}-{n}.json"))

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        self.write("ehlo", {"hostname": hostname, "tls": over_tls(server)})
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.split("@", 1)[0].startswith("reject"):
            self.write("refused", {"rcpt": address})
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        login = session.auth_data.login.decode() if session.authenticated else None
        self.write(
            "message",
            {
                "mail_from": envelope.mail_from,
                "rcpt_tos": envelope.rcpt_tos,
                "tls": over_tls(server),
                "login": login,
                "data": envelope.content.decode("utf-8", "replace"),
                "headers": {k.lower(): str(v) for k, v in message.items()},
                "content_type": message.get_content_type(),
                "parts": [
                    {"content_type": part.get_content_type(), "content": part.get_content()}
                    for part in message.walk()
                    if not part.is_multipart()
                ],
            },
        )
        return "250 Message accepted for delivery"


class Authenticator:
    def __init__(self, handler, user, password):
        self.handler = handler
        self.user = user.encode()
        self.password = password.encode()

    def __call__(self, server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == self.user
            and auth_data.password == self.password
        )
        login = auth_data.login.decode("utf-8", "replace") if isinstance(auth_data, LoginPassword) else None
        self.handler.write("auth", {"login": login, "success": ok, "tls": over_tls(server)})
        # handled=False: aiosmtpd then answers a failure with 535 itself.
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("outdir")
    parser.add_argument("--tls", choices=["starttls", "implicit"])
    parser.add_argument("--user")
    parser.add_argument("--password")
    args = parser.parse_args()
    # aiosmtpd warns about its own deprecations and about AUTH without STARTTLS (implicit TLS
    # is TLS all the same); stderr is kept for real errors.
    warnings.simplefilter("ignore")

    handler = Handler(args.outdir)
    context = None
    if args.tls:
        import trustme

        ca = trustme.CA()
        ca.cert_pem.write_to_path(os.path.join(args.outdir, "ca.pem"))
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1").configure_cert(context)

    options = {"hostname": "smtp.valise.test"}
    if args.user is not None:
        options["authenticator"] = Authenticator(handler, args.user, args.password or "")
        options["auth_required"] = True
    if args.tls == "starttls":
        options["tls_context"] = context
        options["require_starttls"] = True
    elif args.tls == "implicit":
        # aiosmtpd only counts STARTTLS as TLS; here the socket itself is TLS from the start.
        options["auth_require_tls"] = False

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    server = loop.run_until_complete(
        loop.create_server(
            lambda: SMTP(handler, **options),
            host="127.0.0.1",
            port=0,
            ssl=context if args.tls == "implicit" else None,
        )
    )
    print(server.sockets[0].getsockname()[1], flush=True)

    def stdin_closed():
        if not sys.stdin.buffer.read1(4096):
            loop.stop()

    loop.add_reader(sys.stdin.fileno(), stdin_closed)
    loop.run_forever()


if __name__ == "__main__":
    main()
