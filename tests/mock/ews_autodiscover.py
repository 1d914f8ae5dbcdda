"""POX Autodiscover of the mock EWS server (tests/mock/ews_server.py), as in
../shared/protocol/ews/samples/autodiscover-pox*.xml.

Configured by POST /_mock/autodiscover: {"redirect_addr": A} answers
redirectAddr A to every address but A; {"redirect_url": U} answers
redirectUrl U; "redirect_count": N limits redirects to the first N
requests (default: every one); {"error": 500} answers that ErrorCode;
"ews_url" replaces this server's own EWS URL; "http_status" answers that
status with no body.
"""
from lxml import etree

import ews_auth
from ews_store import DOMAIN, esc, user_by_address

NS_REQ = "http://schemas.microsoft.com/exchange/autodiscover/outlook/" \
    "requestschema/2006"
NS_RESP = "http://schemas.microsoft.com/exchange/autodiscover/" \
    "responseschema/2006"
NS_RESPA = "http://schemas.microsoft.com/exchange/autodiscover/outlook/" \
    "responseschema/2006a"

ERRORS = {500: "The e-mail address cannot be found.",
          600: "Invalid Request", 601: "The requested schema version is "
          "not supported."}


def error_xml(code, msg):
    return ('<?xml version="1.0" encoding="utf-8"?>'
            '<Autodiscover xmlns="%s"><Response><Error Time="09:14:07.1234567"'
            ' Id="1234567890"><ErrorCode>%d</ErrorCode><Message>%s</Message>'
            '<DebugData/></Error></Response></Autodiscover>'
            % (NS_RESP, code, esc(msg)))


def redirect_xml(action, value):
    tag = "RedirectAddr" if action == "redirectAddr" else "RedirectUrl"
    return ('<?xml version="1.0" encoding="utf-8"?>'
            '<Autodiscover xmlns="%s"><Response xmlns="%s"><Account>'
            '<Action>%s</Action><%s>%s</%s></Account></Response>'
            '</Autodiscover>' % (NS_RESP, NS_RESPA, action, tag, esc(value),
                                 tag))


def settings_xml(addr, name, ews):
    local = addr.split("@")[0]
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<Autodiscover xmlns="%s"><Response xmlns="%s"><User>'
        '<DisplayName>%s</DisplayName>'
        '<LegacyDN>/o=ExampleOrg/ou=Exchange Administrative Group '
        '(FYDIBOHF23SPDLT)/cn=Recipients/cn=%s</LegacyDN>'
        '<AutoDiscoverSMTPAddress>%s</AutoDiscoverSMTPAddress>'
        '<DeploymentId>00000000-0000-0000-0000-00000000e5e5</DeploymentId>'
        '</User><Account><AccountType>email</AccountType>'
        '<Action>settings</Action><MicrosoftOnline>False</MicrosoftOnline>'
        '<Protocol><Type>EXCH</Type><Server>mbx01.%s</Server>'
        '<ServerDN>/o=ExampleOrg/ou=Exchange Administrative Group '
        '(FYDIBOHF23SPDLT)/cn=Configuration/cn=Servers/cn=mbx01</ServerDN>'
        '<ServerVersion>73C18880</ServerVersion>'
        '<AuthPackage>Negotiate</AuthPackage><ASUrl>%s</ASUrl>'
        '<EwsUrl>%s</EwsUrl><OOFUrl>%s</OOFUrl></Protocol>'
        '<Protocol><Type>EXPR</Type><Server>mail.%s</Server><SSL>On</SSL>'
        '<AuthPackage>Basic</AuthPackage><ASUrl>%s</ASUrl>'
        '<EwsUrl>%s</EwsUrl><OOFUrl>%s</OOFUrl></Protocol>'
        '</Account></Response></Autodiscover>' % (
            NS_RESP, NS_RESPA, esc(name), esc(local), esc(addr), DOMAIN,
            esc(ews), esc(ews), esc(ews), DOMAIN, esc(ews), esc(ews),
            esc(ews)))


def answer(h):
    srv = h.server
    user = ews_auth.authenticate(h)
    if user is None:
        return
    raw = h.read_body()
    with srv.lock:
        srv.stats["requests"] += 1
        srv.stats["autodiscover_requests"] += 1
        bo = srv.stats["by_operation"]
        bo["Autodiscover"] = bo.get("Autodiscover", 0) + 1
        cfg = dict(srv.autodiscover)
    inj = srv.take_injection("Autodiscover", "any")
    if inj:
        import ews_server
        if inj.get("drop"):
            return h.drop()
        if "http_status" in inj:
            return h.send(inj["http_status"], inj.get("body", ""))
        if "raw" in inj or "raw_preset" in inj:
            return h.send(inj.get("raw_status", 200),
                          ews_server.raw_body(inj))
    if cfg.get("http_status"):
        return h.send(int(cfg["http_status"]), "")
    parser = etree.XMLParser(resolve_entities=False, no_network=True,
                             load_dtd=False)
    try:
        doc = etree.fromstring(raw, parser)
        addr = doc.findtext("{%s}Request/{%s}EMailAddress" % (NS_REQ,
                                                              NS_REQ))
        schema = doc.findtext("{%s}Request/{%s}AcceptableResponseSchema"
                              % (NS_REQ, NS_REQ))
    except etree.XMLSyntaxError:
        return h.send(200, error_xml(600, ERRORS[600]))
    if not addr:
        return h.send(200, error_xml(600, ERRORS[600]))
    if schema != NS_RESPA:
        return h.send(200, error_xml(601, ERRORS[601]))
    addr = addr.strip().lower()
    if cfg.get("error"):
        code = int(cfg["error"])
        return h.send(200, error_xml(code, ERRORS.get(code, "Error")))

    def redirect_left():
        n = cfg.get("redirect_count")
        if n is None:
            return True
        with srv.lock:
            left = srv.autodiscover.get("redirect_count", 0)
            if left <= 0:
                return False
            srv.autodiscover["redirect_count"] = left - 1
            return True
    if cfg.get("redirect_addr") and addr != cfg["redirect_addr"].lower() \
            and redirect_left():
        return h.send(200, redirect_xml("redirectAddr",
                                        cfg["redirect_addr"]))
    if cfg.get("redirect_url") and redirect_left():
        return h.send(200, redirect_xml("redirectUrl", cfg["redirect_url"]))
    u = user_by_address(addr)
    name = u["name"] if u else None
    if u is None:
        # an alias in another domain of a known user (a redirect target)
        local = addr.split("@")[0]
        u = user_by_address(local + "@" + DOMAIN)
        if u is None or not cfg.get("redirect_addr"):
            return h.send(200, error_xml(500, ERRORS[500]))
        name = u["name"]
    ews = cfg.get("ews_url") or "%s://127.0.0.1:%d/EWS/Exchange.asmx" % (
        srv.scheme, srv.server_address[1])
    h.send(200, settings_xml(addr, name, ews))
