"""The e-code: the short-lived, signed QR code an insured person shows at a counter.

``ecode.token``, ``ecode.verifier`` and ``ecode.qr`` import no Django, so a counter can verify and render
codes with them alone. Keep this file free of imports: the package also becomes a Django app.
"""
