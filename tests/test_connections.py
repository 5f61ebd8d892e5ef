"""Several SMTP connections at once ([smtp] connections): the queue's promises hold across them,
against a real server on 127.0.0.1. (A SIGKILL with three connections: test_mail.py.)"""

from __future__ import annotations

from .smtp_sink import Faults
from .test_mail import prepare, send_through, set_connections, statuses


def test_three_connections_share_the_queue_and_send_everyone_once(mrun, port, mail_site):
    set_connections(mail_site, 3)
    emails = prepare(mrun, 30)
    result, sink = send_through(mrun, port, Faults(data_delay=0.02))
    assert result.exit_code == 0, result.output
    assert "30 sent, 0 failed" in result.stdout
    assert sink.counts() == {e: 1 for e in emails}
    assert sink.connections == 3
    assert sink.most_in_data == 3  # the three really were busy at the same time


def test_a_421_on_one_connection_pauses_all_of_them(mrun, port, mail_site):
    set_connections(mail_site, 3, retry_delay=1.0)
    emails = prepare(mrun, 24)
    result, sink = send_through(mrun, port, Faults(data_delay=0.02, refuse_data={6}))
    assert result.exit_code == 0, result.output
    assert sink.counts() == {e: 1 for e in emails}
    [refused] = sink.refused_at
    # After the 421 the other two lines may each finish the message they have out and take
    # the one already offered to them: at most four envelopes reach the server before the
    # backoff (1 s, counted by the sender from when it read the 421, so after this moment)
    # is over; the other 18 or so wait for it. Counted, not timed: a busy machine only
    # delays a line's envelope, and that cannot make more of them.
    started = [t - refused for t in sink.mail_times]
    assert len([t for t in started if 0 < t < 1.0]) <= 2 * (3 - 1), started
    assert len([t for t in started if t >= 1.0]) >= 24 - 6 - 2 * (3 - 1)  # then the rest went


def test_permanent_and_temporary_failures_across_connections(mrun, port, mail_site):
    set_connections(mail_site, 4)
    emails = prepare(mrun, 12)
    faults = Faults(
        data_delay=0.01,
        rcpt={emails[2]: ["451 4.7.1 Greylisted"] * 2, emails[5]: ["550 5.1.1 No such user"]},
    )
    result, sink = send_through(mrun, port, faults)
    assert result.exit_code == 1
    assert "11 sent, 1 failed" in result.stdout
    assert sink.counts() == {e: 1 for e in emails if e != emails[5]}
    state = statuses(mail_site)
    assert state[emails[5]] == "failed" and state[emails[2]] == "sent"
