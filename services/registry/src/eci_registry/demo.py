"""Demo data: fictional companies of the French watchmaking value chain, seeded idempotently
through the registry's REST API (so that their events flow like any others).

    python -m eci_registry.demo --url http://127.0.0.1:8001
"""

import argparse
import json
import sys
import urllib.error
import urllib.request
from typing import Any


def _with_luhn(eight_digits: str) -> str:
    """A SIREN-shaped number: eight digits and the Luhn check digit that makes it valid."""
    for check in range(10):
        candidate = f"{eight_digits}{check}"
        total = 0
        for index, char in enumerate(reversed(candidate)):
            digit = int(char) * (2 if index % 2 else 1)
            total += digit - 9 if digit > 9 else digit
        if total % 10 == 0:
            return candidate
    raise AssertionError("unreachable: one check digit always fits")


# Fictional names; the SIRENs are valid in shape and checksum, and belong to no one we know of.
DEMO_COMPANIES: list[dict[str, Any]] = [
    {"legal_name": "Manufacture Horlogère du Haut-Doubs", "siren": _with_luhn("90100001"),
     "city": "Morteau", "region": "Bourgogne-Franche-Comté",
     "roles": ["watch_brand", "movement_maker"], "capabilities": ["movements", "assembly"]},
    {"legal_name": "Boîtiers de Villers", "siren": _with_luhn("90100002"),
     "city": "Villers-le-Lac", "region": "Bourgogne-Franche-Comté",
     "roles": ["case_maker"], "capabilities": ["cases"]},
    {"legal_name": "Cadrans Saint-Claude", "siren": _with_luhn("90100003"),
     "city": "Besançon", "region": "Bourgogne-Franche-Comté",
     "roles": ["dial_maker"], "capabilities": ["dials"]},
    {"legal_name": "Atelier des Bracelets d'Annecy", "siren": _with_luhn("90100004"),
     "city": "Annecy", "region": "Auvergne-Rhône-Alpes",
     "roles": ["strap_maker"], "capabilities": ["straps_bracelets"]},
    {"legal_name": "Joaillerie Vendôme Temps", "siren": _with_luhn("90100005"),
     "city": "Paris", "region": "Île-de-France",
     "roles": ["jeweller", "watch_brand"], "capabilities": ["jewellery_watches"]},
    {"legal_name": "Automatismes Comtois", "siren": _with_luhn("90100006"),
     "city": "Montbéliard", "region": "Bourgogne-Franche-Comté",
     "roles": ["automation_integrator"], "capabilities": ["process_automation"]},
    {"legal_name": "Logistique Précision Jura", "siren": _with_luhn("90100007"),
     "city": "Dole", "region": "Bourgogne-Franche-Comté",
     "roles": ["logistics"], "capabilities": ["logistics"]},
    {"legal_name": "SAV Horloger de Lyon", "siren": _with_luhn("90100008"),
     "city": "Lyon", "region": "Auvergne-Rhône-Alpes",
     "roles": ["after_sales"], "capabilities": ["after_sales"]},
]  # fmt: skip


def seed(base_url: str) -> tuple[int, int]:
    """Registers each demo company unless its SIREN is known; returns (created, existing)."""
    created = existing = 0
    for company in DEMO_COMPANIES:
        request = urllib.request.Request(  # noqa: S310 - the operator's own registry URL
            f"{base_url.rstrip('/')}/companies",
            data=json.dumps(company).encode(),
            headers={"Content-Type": "application/json", "X-Correlation-ID": "demo-seed"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                response.read()
            created += 1
        except urllib.error.HTTPError as exc:
            if exc.code != 409:
                raise
            existing += 1
    return created, existing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--url", default="http://127.0.0.1:8001", help="registry base URL")
    args = parser.parse_args()
    created, existing = seed(args.url)
    sys.stdout.write(f"demo companies: {created} registered, {existing} already there\n")


if __name__ == "__main__":
    main()
