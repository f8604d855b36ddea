"""Demo data: the ten workshop clusters (grappes) of the kick-off and about thirty fictional
companies of the French watchmaking value chain, seeded idempotently through the registry's
REST API (so that their events flow like any others).

    python -m eci_registry.demo --url http://127.0.0.1:8001

Every name, SIREN, website, e-mail address and phone number here is made up: websites and
e-mail domains are under `.example`, French phone numbers are in the ranges ARCEP reserves for
fiction (01 99 00, 03 53 01, 04 65 71), and the SIRENs start with 9 and belong to no one we
know of.
"""

import argparse
import json
import sys
import unicodedata
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple

from pydantic import ValidationError

from eci_common.auth import TokenIssuerSettings
from eci_registry.demo_credentials import DemoCast, demo_credentials, describe, staff_token
from eci_registry.domain import ValueChainRole as R

DEFAULT_URL = "http://127.0.0.1:8001"
CORRELATION_ID = "demo-seed"

Language = Literal["fr", "en"]
HeadcountBand = Literal["1-9", "10-49", "50-249", "250-999", "1000+"]
Membership = Literal["member", "partner"]

BFC = "Bourgogne-Franche-Comté"
ARA = "Auvergne-Rhône-Alpes"
IDF = "Île-de-France"
GRAND_EST = "Grand Est"


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


@dataclass(frozen=True)
class DemoCluster:
    """A workshop cluster (grappe): its code as the users say it, and its taxonomy theme."""

    code: str
    name: str
    theme: str
    description: str

    def payload(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "theme": self.theme,
            "description": self.description,
        }


@dataclass(frozen=True)
class DemoContact:
    """A person to reach at a demo company, with their consent to be contacted."""

    name: str
    role: str
    email: str
    phone: str
    language: Language
    consent: bool


@dataclass(frozen=True)
class DemoCompany:
    """A fictional company, the clusters it joins and the one it animates, if any."""

    legal_name: str
    siren: str | None
    country: str
    region: str
    city: str
    slug: str
    headcount_band: HeadcountBand
    membership: Membership
    roles: tuple[R, ...]
    capabilities: tuple[str, ...]
    contacts: tuple[DemoContact, ...]
    clusters: tuple[str, ...]
    animates: str | None = None

    @property
    def website(self) -> str:
        return f"https://{self.slug}.example"

    def payload(self) -> dict[str, Any]:
        return {
            "legal_name": self.legal_name,
            "siren": self.siren,
            "country": self.country,
            "region": self.region,
            "city": self.city,
            "website": self.website,
            "headcount_band": self.headcount_band,
            "membership": self.membership,
            "roles": [role.value for role in self.roles],
            "capabilities": list(self.capabilities),
            "contacts": [
                {
                    "name": contact.name,
                    "role": contact.role,
                    "email": contact.email,
                    "phone": contact.phone,
                    "language": contact.language,
                    "consent": contact.consent,
                }
                for contact in self.contacts
            ],
        }


class _Person(NamedTuple):
    name: str
    role: str
    phone: str
    language: Language = "fr"
    consent: bool = True


def _mailbox(name: str) -> str:
    """`Zoé Lévêque-Brun` -> `zoe.leveque-brun`."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return ".".join(ascii_name.lower().replace("'", "").split())


def _company(
    legal_name: str,
    *,
    siren8: str | None,
    city: str,
    region: str = BFC,
    country: str = "FR",
    slug: str,
    band: HeadcountBand,
    membership: Membership = "member",
    roles: tuple[R, ...],
    capabilities: tuple[str, ...],
    clusters: tuple[str, ...],
    animates: str | None = None,
    people: tuple[_Person, ...],
) -> DemoCompany:
    return DemoCompany(
        legal_name=legal_name,
        siren=None if siren8 is None else _with_luhn(siren8),
        country=country,
        region=region,
        city=city,
        slug=slug,
        headcount_band=band,
        membership=membership,
        roles=roles,
        capabilities=capabilities,
        contacts=tuple(
            DemoContact(
                name=person.name,
                role=person.role,
                email=f"{_mailbox(person.name)}@{slug}.example",
                phone=person.phone,
                language=person.language,
                consent=person.consent,
            )
            for person in people
        ),
        clusters=clusters,
        animates=animates,
    )


DEMO_CLUSTERS: tuple[DemoCluster, ...] = (
    DemoCluster(
        "mouvements",
        "Grappe Mouvements",
        "movements",
        "Conception et fabrication de mouvements mécaniques et quartz, de l'échappement aux "
        "complications.",
    ),
    DemoCluster(
        "boitiers",
        "Grappe Boîtiers",
        "cases",
        "Usinage, terminaison et étanchéité des boîtes de montres, en acier comme en métaux "
        "précieux.",
    ),
    DemoCluster(
        "cadrans",
        "Grappe Cadrans",
        "dials",
        "Décoration et fabrication des cadrans, aiguilles et index, du galvanique à l'émail.",
    ),
    DemoCluster(
        "bracelets",
        "Grappe Bracelets",
        "straps_bracelets",
        "Bracelets cuir, métal, caoutchouc et textile, fermoirs et systèmes d'attache.",
    ),
    DemoCluster(
        "montre-bijou",
        "Grappe Montre bijou",
        "jewellery_watches",
        "Sertissage, gravure et joaillerie au service de la montre bijou, avec des pierres et "
        "des métaux d'origine tracée.",
    ),
    DemoCluster(
        "assemblage",
        "Grappe Assemblage",
        "assembly",
        "Assemblage des mouvements, emboîtage, réglage et contrôle final des montres.",
    ),
    DemoCluster(
        "automatisation",
        "Grappe Automatisation des process",
        "process_automation",
        "Robotique, vision, micro-usinage et données industrielles pour des ateliers "
        "horlogers plus compétitifs.",
    ),
    DemoCluster(
        "maitrise-oeuvre",
        "Grappe Maîtrise d'œuvre",
        "project_management",
        "Conduite des projets horlogers, de la conception à l'industrialisation, et "
        "coordination des fournisseurs.",
    ),
    DemoCluster(
        "logistique",
        "Grappe Logistique",
        "logistics",
        "Transport sécurisé, douane, stockage et traçabilité des composants et des montres.",
    ),
    DemoCluster(
        "sav",
        "Grappe SAV",
        "after_sales",
        "Service après-vente mutualisé : révision, restauration, pièces détachées et "
        "relation client.",
    ),
)

# The first eight keep the names and SIRENs of the earlier demo data, so that a registry seeded
# with it is completed rather than duplicated.
DEMO_COMPANIES: tuple[DemoCompany, ...] = (
    _company(
        "Manufacture Horlogère du Haut-Doubs",
        siren8="90100001",
        city="Morteau",
        slug="manufacture-haut-doubs",
        band="250-999",
        roles=(R.WATCH_BRAND, R.MOVEMENT_MAKER),
        capabilities=(
            "movements",
            "movements.complications",
            "assembly.movement_assembly",
            "assembly.timing_adjustment",
        ),
        clusters=("mouvements", "assemblage"),
        animates="mouvements",
        people=(
            _Person("Claire Vuillemin", "Directrice générale", "+33 3 53 01 10 01"),
            _Person("Julien Cuenot", "Responsable R&D mouvements", "+33 3 53 01 10 02"),
        ),
    ),
    _company(
        "Boîtiers de Villers",
        siren8="90100002",
        city="Villers-le-Lac",
        slug="boitiers-villers",
        band="50-249",
        roles=(R.CASE_MAKER,),
        capabilities=(
            "cases.stamping_machining",
            "cases.polishing_finishing",
            "cases.water_resistance",
        ),
        clusters=("boitiers",),
        animates="boitiers",
        people=(_Person("Marc Bourgeois", "Directeur industriel", "+33 3 53 01 10 11"),),
    ),
    _company(
        "Cadrans Saint-Claude",
        siren8="90100003",
        city="Besançon",
        slug="cadrans-saint-claude",
        band="10-49",
        roles=(R.DIAL_MAKER,),
        capabilities=("dials.galvanic_treatments", "dials.pad_printing", "dials.appliques_indexes"),
        clusters=("cadrans",),
        animates="cadrans",
        people=(_Person("Sophie Girardot", "Gérante", "+33 3 53 01 10 21"),),
    ),
    _company(
        "Atelier des Bracelets d'Annecy",
        siren8="90100004",
        city="Annecy",
        region=ARA,
        slug="bracelets-annecy",
        band="10-49",
        roles=(R.STRAP_MAKER,),
        capabilities=("straps_bracelets.leather", "straps_bracelets.clasps_buckles"),
        clusters=("bracelets",),
        animates="bracelets",
        people=(
            _Person("Élodie Perrissin", "Fondatrice", "+33 4 65 71 20 01"),
            _Person("Thomas Duret", "Responsable commercial", "+33 4 65 71 20 02", consent=False),
        ),
    ),
    _company(
        "Joaillerie Vendôme Temps",
        siren8="90100005",
        city="Paris",
        region=IDF,
        slug="vendome-temps",
        band="10-49",
        roles=(R.JEWELLER, R.WATCH_BRAND),
        capabilities=(
            "jewellery_watches.gem_setting",
            "jewellery_watches.gemstones",
            "jewellery_watches.goldsmithing",
        ),
        clusters=("montre-bijou",),
        animates="montre-bijou",
        people=(
            _Person("Hélène Marchal", "Directrice de la création", "+33 1 99 00 30 01"),
            _Person("James Whitfield", "Export manager", "+33 1 99 00 30 02", language="en"),
        ),
    ),
    _company(
        "Automatismes Comtois",
        siren8="90100006",
        city="Montbéliard",
        slug="automatismes-comtois",
        band="50-249",
        roles=(R.AUTOMATION_INTEGRATOR,),
        capabilities=(
            "process_automation.robotics",
            "process_automation.machine_vision",
            "process_automation.industrial_data",
        ),
        clusters=("automatisation",),
        animates="automatisation",
        people=(_Person("Nicolas Faivre", "Directeur technique", "+33 3 53 01 10 61"),),
    ),
    _company(
        "Logistique Précision Jura",
        siren8="90100007",
        city="Dole",
        slug="logistique-precision-jura",
        band="250-999",
        roles=(R.LOGISTICS,),
        capabilities=(
            "logistics.secure_transport",
            "logistics.warehousing",
            "logistics.traceability",
        ),
        clusters=("logistique",),
        animates="logistique",
        people=(_Person("Laurence Jeunet", "Responsable grands comptes", "+33 3 53 01 10 71"),),
    ),
    _company(
        "SAV Horloger de Lyon",
        siren8="90100008",
        city="Lyon",
        region=ARA,
        slug="sav-horloger-lyon",
        band="10-49",
        roles=(R.AFTER_SALES,),
        capabilities=("after_sales.servicing", "after_sales.spare_parts", "after_sales.warranty"),
        clusters=("sav",),
        animates="sav",
        people=(_Person("Karim Benali", "Chef d'atelier", "+33 4 65 71 20 81"),),
    ),
    _company(
        "Bureau d'Études Horlogères Vauban",
        siren8="90100009",
        city="Besançon",
        slug="be-horlogeres-vauban",
        band="10-49",
        roles=(R.DESIGN_OFFICE,),
        capabilities=(
            "project_management.product_design",
            "project_management.prototyping",
            "project_management.industrialisation",
            "movements.complications",
        ),
        clusters=("maitrise-oeuvre", "mouvements"),
        animates="maitrise-oeuvre",
        people=(
            _Person("Anne-Laure Jacquot", "Directrice", "+33 3 53 01 10 91"),
            _Person("Pierre Tissot-Daguette", "Ingénieur conception", "+33 3 53 01 10 92"),
        ),
    ),
    _company(
        "Décolletage de la Vallée du Dessoubre",
        siren8="90100010",
        city="Maîche",
        slug="decolletage-dessoubre",
        band="50-249",
        roles=(R.SUBCONTRACTOR, R.COMPONENT_MAKER),
        capabilities=(
            "movements.bar_turning",
            "movements.gear_cutting",
            "process_automation.micro_machining",
        ),
        clusters=("mouvements", "automatisation"),
        people=(_Person("Gérard Pheulpin", "Directeur commercial", "+33 3 53 01 11 01"),),
    ),
    _company(
        "Spiraux et Balanciers de Charquemont",
        siren8="90100011",
        city="Charquemont",
        slug="spiraux-charquemont",
        band="10-49",
        roles=(R.COMPONENT_MAKER,),
        capabilities=("movements.escapement", "movements.mainspring_barrel"),
        clusters=("mouvements",),
        people=(_Person("Isabelle Monnot", "Responsable qualité", "+33 3 53 01 11 11"),),
    ),
    _company(
        "Polissage Fin du Pays Horloger",
        siren8="90100013",
        city="Maîche",
        slug="polissage-pays-horloger",
        band="1-9",
        roles=(R.SUBCONTRACTOR,),
        capabilities=("cases.polishing_finishing", "cases.surface_coatings"),
        clusters=("boitiers",),
        people=(_Person("Didier Mougin", "Artisan polisseur, gérant", "+33 3 53 01 11 31"),),
    ),
    _company(
        "Boîtes Précieuses de Pontarlier",
        siren8="90100014",
        city="Pontarlier",
        slug="boites-precieuses-pontarlier",
        band="10-49",
        roles=(R.CASE_MAKER, R.SUBCONTRACTOR),
        capabilities=("cases.precious_metals", "jewellery_watches.responsible_sourcing"),
        clusters=("boitiers", "montre-bijou"),
        people=(_Person("Catherine Billod", "Directrice générale", "+33 3 53 01 11 41"),),
    ),
    _company(
        "Galvanoplastie de Morteau",
        siren8="90100015",
        city="Morteau",
        slug="galvano-morteau",
        band="10-49",
        roles=(R.DIAL_MAKER, R.SUBCONTRACTOR),
        capabilities=("dials.galvanic_treatments", "cases.surface_coatings"),
        clusters=("cadrans", "boitiers"),
        people=(_Person("Sébastien Chopard-Lallier", "Responsable atelier", "+33 3 53 01 11 51"),),
    ),
    _company(
        "Atelier Émaux du Marais",
        siren8="90100016",
        city="Paris",
        region=IDF,
        slug="emaux-du-marais",
        band="1-9",
        roles=(R.DIAL_MAKER, R.JEWELLER),
        capabilities=("dials.enamel", "jewellery_watches.engraving"),
        clusters=("cadrans", "montre-bijou"),
        people=(_Person("Mathilde Aubert", "Émailleuse, fondatrice", "+33 1 99 00 31 61"),),
    ),
    _company(
        "Aiguilles et Index de Villers",
        siren8="90100017",
        city="Villers-le-Lac",
        slug="aiguilles-index-villers",
        band="50-249",
        roles=(R.COMPONENT_MAKER,),
        capabilities=("dials.hands", "dials.appliques_indexes", "dials.luminescent_coatings"),
        clusters=("cadrans",),
        people=(
            _Person("Olivier Lambert", "Président", "+33 3 53 01 11 71"),
            _Person("Nadia Chevalier", "Ingénieure méthodes", "+33 3 53 01 11 72"),
        ),
    ),
    _company(
        "Bracelets Cuir du Doubs",
        siren8="90100018",
        city="Pontarlier",
        slug="bracelets-cuir-doubs",
        band="10-49",
        roles=(R.STRAP_MAKER,),
        capabilities=("straps_bracelets.leather", "straps_bracelets.quick_release"),
        clusters=("bracelets",),
        people=(_Person("Patricia Cretin", "Gérante", "+33 3 53 01 11 81"),),
    ),
    _company(
        "Maillons et Fermoirs de Cluses",
        siren8="90100019",
        city="Cluses",
        region=ARA,
        slug="maillons-fermoirs-cluses",
        band="50-249",
        roles=(R.STRAP_MAKER, R.SUBCONTRACTOR),
        capabilities=(
            "straps_bracelets.metal_bracelets",
            "straps_bracelets.clasps_buckles",
            "movements.bar_turning",
        ),
        clusters=("bracelets", "mouvements"),
        people=(_Person("Franck Pollet", "Directeur commercial", "+33 4 65 71 21 91"),),
    ),
    _company(
        "Élastomères Techniques Alpins",
        siren8="90100020",
        city="Annecy",
        region=ARA,
        slug="elastomeres-alpins",
        band="50-249",
        roles=(R.COMPONENT_MAKER, R.STRAP_MAKER),
        capabilities=("straps_bracelets.rubber_textile", "cases.crystals_gaskets"),
        clusters=("bracelets", "boitiers"),
        people=(
            _Person("Stéphanie Rey", "Responsable développement", "+33 4 65 71 22 01"),
            _Person("Laura Bennett", "Key account manager", "+33 4 65 71 22 02", language="en"),
        ),
    ),
    _company(
        "Sertissage Lumière",
        siren8="90100021",
        city="Paris",
        region=IDF,
        slug="sertissage-lumiere",
        band="1-9",
        roles=(R.JEWELLER, R.SUBCONTRACTOR),
        capabilities=("jewellery_watches.gem_setting", "jewellery_watches.engraving"),
        clusters=("montre-bijou",),
        people=(_Person("Antoine Delacroix", "Maître sertisseur", "+33 1 99 00 32 11"),),
    ),
    _company(
        "Ateliers d'Emboîtage du Val de Morteau",
        siren8="90100022",
        city="Morteau",
        slug="emboitage-val-morteau",
        band="50-249",
        roles=(R.ASSEMBLER,),
        capabilities=(
            "assembly.movement_assembly",
            "assembly.casing",
            "assembly.lubrication",
            "assembly.quality_control",
        ),
        clusters=("assemblage",),
        animates="assemblage",
        people=(
            _Person("Valérie Cuenin", "Directrice des opérations", "+33 3 53 01 12 21"),
            _Person("Romain Jeannin", "Responsable qualité", "+33 3 53 01 12 22"),
        ),
    ),
    _company(
        "Montres Rhénanes",
        siren8="90100023",
        city="Mulhouse",
        region=GRAND_EST,
        slug="montres-rhenanes",
        band="10-49",
        roles=(R.WATCH_BRAND, R.ASSEMBLER),
        capabilities=(
            "assembly.casing",
            "after_sales.customer_relations",
            "logistics.distribution",
        ),
        clusters=("assemblage", "sav", "logistique"),
        people=(_Person("Léa Schaller", "Cofondatrice", "+33 3 53 01 12 31"),),
    ),
    _company(
        "Pendules et Carillons de l'Est",
        siren8="90100024",
        city="Épinal",
        region=GRAND_EST,
        slug="pendules-carillons-est",
        band="50-249",
        roles=(R.MOVEMENT_MAKER, R.ASSEMBLER),
        capabilities=(
            "movements.quartz_modules",
            "assembly.movement_assembly",
            "process_automation.robotics",
        ),
        clusters=("mouvements", "automatisation"),
        people=(_Person("Bernard Thiébaut", "Directeur général", "+33 3 53 01 12 41"),),
    ),
    _company(
        "Vision et Mesure Microtechnique",
        siren8="90100025",
        city="Besançon",
        slug="vision-mesure-microtech",
        band="10-49",
        roles=(R.AUTOMATION_INTEGRATOR,),
        capabilities=("process_automation.machine_vision", "process_automation.metrology"),
        clusters=("automatisation",),
        people=(_Person("Yannick Marguet", "Gérant", "+33 3 53 01 12 51"),),
    ),
    _company(
        "Lasers de l'Allan",
        siren8="90100026",
        city="Montbéliard",
        slug="lasers-allan",
        band="10-49",
        roles=(R.SUBCONTRACTOR,),
        capabilities=(
            "process_automation.laser_processes",
            "process_automation.micro_machining",
            "cases.stamping_machining",
        ),
        clusters=("automatisation", "boitiers"),
        people=(_Person("Camille Roy", "Responsable applications laser", "+33 3 53 01 12 61"),),
    ),
    _company(
        "Plateforme Logistique Horlogère de Pontarlier",
        siren8="90100027",
        city="Pontarlier",
        slug="plh-pontarlier",
        band="50-249",
        roles=(R.LOGISTICS,),
        capabilities=("logistics.customs", "logistics.secure_transport", "logistics.distribution"),
        clusters=("logistique",),
        people=(
            _Person("Fabrice Vernier", "Directeur d'exploitation", "+33 3 53 01 12 71"),
            _Person("Émilie Courvoisier", "Déclarante en douane", "+33 3 53 01 12 72"),
        ),
    ),
    _company(
        "Comptoir Horloger Parisien",
        siren8="90100028",
        city="Paris",
        region=IDF,
        slug="comptoir-horloger-parisien",
        band="10-49",
        roles=(R.RETAILER, R.AFTER_SALES),
        capabilities=(
            "after_sales.servicing",
            "after_sales.customer_relations",
            "logistics.distribution",
        ),
        clusters=("sav", "logistique"),
        people=(_Person("Xavier Morel", "Directeur des boutiques", "+33 1 99 00 32 81"),),
    ),
    _company(
        "Atelier de Restauration Horlogère des Chaprais",
        siren8="90100030",
        city="Besançon",
        slug="restauration-chaprais",
        band="1-9",
        roles=(R.AFTER_SALES,),
        capabilities=("after_sales.restoration", "after_sales.servicing"),
        clusters=("sav",),
        people=(_Person("Jean-Paul Mercier", "Horloger restaurateur", "+33 3 53 01 13 01"),),
    ),
    _company(
        "Institut des Microtechniques Horlogères de Besançon",
        siren8="90100031",
        city="Besançon",
        slug="imh-besancon",
        band="50-249",
        membership="partner",
        roles=(R.SCHOOL_OR_LAB,),
        capabilities=(
            "movements.escapement",
            "process_automation.metrology",
            "project_management.prototyping",
        ),
        clusters=("mouvements", "automatisation", "maitrise-oeuvre"),
        people=(
            _Person("Agnès Prétot", "Directrice de la recherche", "+33 3 53 01 13 11"),
            _Person("David Okafor", "Research engineer", "+33 3 53 01 13 12", language="en"),
        ),
    ),
    _company(
        "Cabinet Rhodanien de Maîtrise d'Œuvre Industrielle",
        siren8="90100032",
        city="Lyon",
        region=ARA,
        slug="cabinet-rhodanien-moi",
        band="1-9",
        membership="partner",
        roles=(R.DESIGN_OFFICE,),
        capabilities=(
            "project_management.supplier_coordination",
            "project_management.funding",
            "project_management.industrialisation",
        ),
        clusters=("maitrise-oeuvre",),
        people=(_Person("Florence Dumas", "Consultante associée", "+33 4 65 71 23 21"),),
    ),
    _company(
        "Ressorts Moteurs Jurassiens SA",
        siren8=None,
        country="CH",
        region="Neuchâtel",
        city="La Chaux-de-Fonds",
        slug="ressorts-jurassiens",
        band="50-249",
        membership="partner",
        roles=(R.COMPONENT_MAKER,),
        capabilities=("movements.mainspring_barrel",),
        clusters=("mouvements",),
        people=(_Person("Laurent Humbert-Droz", "Directeur des ventes", "+41 32 000 01 10"),),
    ),
    _company(
        "Habillage Horloger Romand SA",
        siren8=None,
        country="CH",
        region="Genève",
        city="Genève",
        slug="habillage-romand",
        band="10-49",
        membership="partner",
        roles=(R.CASE_MAKER, R.DIAL_MAKER),
        capabilities=("cases.precious_metals", "dials.appliques_indexes"),
        clusters=("boitiers", "cadrans"),
        people=(
            _Person("Sandrine Favre", "Responsable projets", "+41 22 000 02 20"),
            _Person("Michael Keller", "Sales manager", "+41 22 000 02 21", language="en"),
        ),
    ),
    _company(
        "Normes et Qualité Horlogère Sàrl",
        siren8=None,
        country="CH",
        region="Berne",
        city="Bienne",
        slug="normes-qualite-horlogere",
        band="1-9",
        membership="partner",
        roles=(R.DESIGN_OFFICE,),
        capabilities=("project_management.standards_certification", "assembly.quality_control"),
        clusters=("maitrise-oeuvre", "assemblage"),
        people=(
            _Person("Christophe Rochat", "Consultant qualité", "+41 32 000 03 30", consent=False),
        ),
    ),
)


@dataclass
class SeedReport:
    """What a seeding run did; ids are the registry's, by cluster code and by legal name."""

    clusters_created: int = 0
    clusters_existing: int = 0
    companies_created: int = 0
    companies_existing: int = 0
    memberships: int = 0
    cluster_ids: dict[str, str] = field(default_factory=dict)
    company_ids: dict[str, str] = field(default_factory=dict)


class SeedError(Exception):
    """The registry could not be reached, or answered something the seed does not expect."""


class _Registry:
    """The few registry routes the seed uses, over urllib (no third-party client)."""

    def __init__(self, base_url: str, timeout: float, token: str) -> None:
        self._base_url = base_url.rstrip("/")
        self._timeout = timeout
        self._token = token

    def call(
        self, method: str, path: str, body: object = None, *, expect: Collection[int]
    ) -> tuple[int, Any]:
        """The status and decoded JSON body (None if empty); SeedError unless in `expect`."""
        url = f"{self._base_url}{path}"
        request = urllib.request.Request(  # noqa: S310 - the operator's own registry URL
            url,
            data=None if body is None else json.dumps(body).encode(),
            headers={
                "Content-Type": "application/json",
                "Accept": "application/json",
                "X-Correlation-ID": CORRELATION_ID,
                "Authorization": f"Bearer {self._token}",
            },
            method=method,
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:  # noqa: S310
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            raise SeedError(f"cannot reach the registry at {self._base_url}: {reason}") from exc
        text = raw.decode("utf-8", "replace")
        if status not in expect:
            raise SeedError(f"{method} {url} answered HTTP {status}: {text or '(empty body)'}")
        if not text:
            return status, None
        try:
            return status, json.loads(text)
        except json.JSONDecodeError as exc:
            raise SeedError(f"{method} {url} answered HTTP {status} with non-JSON: {text}") from exc

    def find_ids(
        self, path: str, params: dict[str, str], match: Callable[[Any], bool]
    ) -> list[str]:
        """The ids of the listed items that `match`. Reads the first page only: the queries the
        seed makes (a code, a SIREN, an exact name) select one item."""
        _, body = self.call("GET", f"{path}?{urllib.parse.urlencode(params)}", expect={200})
        items = body.get("items") if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise SeedError(f"GET {path} with {params}: no 'items' list in {body!r}")
        return [
            _id_of(item, f"GET {path}") for item in items if isinstance(item, dict) and match(item)
        ]

    def find_one_id(self, path: str, params: dict[str, str], match: Callable[[Any], bool]) -> str:
        """The id of the one listed item that `match`es; SeedError if there is none or several."""
        found = self.find_ids(path, params, match)
        if len(found) != 1:
            raise SeedError(f"GET {path} with {params}: expected one match, got {len(found)}")
        return found[0]


def _id_of(body: object, what: str) -> str:
    identifier = body.get("id") if isinstance(body, dict) else None
    if not isinstance(identifier, str) or not identifier:
        raise SeedError(f"{what}: no 'id' in {body!r}")
    return identifier


def _seed_cluster(registry: _Registry, cluster: DemoCluster) -> tuple[str, bool]:
    """The cluster's id, and whether this run created it."""
    status, body = registry.call("POST", "/clusters", cluster.payload(), expect={200, 201, 409})
    if status != 409:
        return _id_of(body, "POST /clusters"), True
    identifier = registry.find_one_id(
        "/clusters", {"code": cluster.code}, lambda item: item.get("code") == cluster.code
    )
    return identifier, False


def _seed_company(registry: _Registry, company: DemoCompany) -> tuple[str, bool]:
    """The company's id, and whether this run registered it."""
    if company.siren is None:
        # No SIREN, so nothing for the registry to refuse as a duplicate: look before creating.
        known = registry.find_ids(
            "/companies",
            {"q": company.legal_name},
            lambda item: item.get("legal_name") == company.legal_name,
        )
        if len(known) > 1:
            raise SeedError(f"{company.legal_name!r} is registered {len(known)} times")
        if known:
            return known[0], False
    status, body = registry.call("POST", "/companies", company.payload(), expect={200, 201, 409})
    if status != 409:
        return _id_of(body, "POST /companies"), True
    if company.siren is None:
        raise SeedError(f"POST /companies refused {company.legal_name!r} as a duplicate: {body}")
    siren = company.siren
    identifier = registry.find_one_id(
        "/companies", {"siren": siren}, lambda item: item.get("siren") == siren
    )
    return identifier, False


def seed(
    base_url: str = DEFAULT_URL,
    *,
    token: str,
    progress: Callable[[str], None] | None = None,
    timeout: float = 10.0,
) -> SeedReport:
    """Creates the clusters, registers the companies and puts them in their clusters, skipping
    whatever already exists, so that it can run any number of times. `token` is a staff
    token. Raises SeedError."""
    say = progress or (lambda _line: None)
    registry = _Registry(base_url, timeout, token)
    report = SeedReport()

    for cluster in DEMO_CLUSTERS:
        cluster_id, created = _seed_cluster(registry, cluster)
        report.cluster_ids[cluster.code] = cluster_id
        if created:
            report.clusters_created += 1
        else:
            report.clusters_existing += 1
    say(f"clusters: {report.clusters_created} created, {report.clusters_existing} already there")

    for company in DEMO_COMPANIES:
        company_id, created = _seed_company(registry, company)
        report.company_ids[company.legal_name] = company_id
        if created:
            report.companies_created += 1
        else:
            report.companies_existing += 1
    say(
        f"companies: {report.companies_created} registered, "
        f"{report.companies_existing} already there"
    )

    animators = 0
    for company in DEMO_COMPANIES:
        company_id = report.company_ids[company.legal_name]
        for code in company.clusters:
            role = "animator" if code == company.animates else "member"
            path = f"/clusters/{report.cluster_ids[code]}/members/{company_id}"
            registry.call("PUT", path, {"role": role}, expect={200, 201, 204})
            report.memberships += 1
            if role == "animator":
                animators += 1
    say(f"memberships: {report.memberships} ({animators} as animator)")
    return report


def demo_cast(report: SeedReport) -> DemoCast:
    """The animator of the first cluster that has one, and the first company animating none."""
    animating = next(company for company in DEMO_COMPANIES if company.animates)
    assert animating.animates is not None  # noqa: S101 - chosen for it
    plain = next(company for company in DEMO_COMPANIES if not company.animates)
    return DemoCast(
        animated_cluster_code=animating.animates,
        animated_cluster_id=report.cluster_ids[animating.animates],
        animator_company_name=animating.legal_name,
        animator_company_id=report.company_ids[animating.legal_name],
        contact_company_name=plain.legal_name,
        contact_company_id=report.company_ids[plain.legal_name],
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m eci_registry.demo",
        description="Seed the registry, idempotently, with the ten workshop clusters and about "
        "thirty fictional companies of the watchmaking value chain.",
    )
    parser.add_argument("--url", default=DEFAULT_URL, help=f"registry base URL ({DEFAULT_URL})")
    parser.add_argument(
        "--credentials",
        type=Path,
        help="also write the demo tokens to this file (shell `export` lines)",
    )
    args = parser.parse_args(argv)

    def say(line: str) -> None:
        sys.stdout.write(f"{line}\n")
        sys.stdout.flush()

    try:
        settings = TokenIssuerSettings()
    except ValidationError as exc:
        sys.stderr.write(
            f"demo seed needs the issuer's signing key (AUTH_SIGNING_KEY_FILE): {exc}\n"
        )
        raise SystemExit(2) from exc
    try:
        report = seed(args.url, token=staff_token(settings), progress=say)
    except SeedError as exc:
        sys.stderr.write(f"demo seed failed: {exc}\n")
        raise SystemExit(1) from exc
    credentials = demo_credentials(settings, demo_cast(report))
    say(describe(credentials, args.url))
    if args.credentials is not None:
        args.credentials.write_text(
            "".join(f"export {c.variable}={c.token}\n" for c in credentials), encoding="utf-8"
        )
        say(f"tokens written to {args.credentials} (source it to use them)")


if __name__ == "__main__":
    main()
