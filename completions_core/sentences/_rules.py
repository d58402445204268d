"""Per-language tables for the sentence chunker: abbreviations, sentence starters, function words.

Everything here is data. The tables are small on purpose: a word only needs to be listed when the
generic rules (a period followed by a lowercase word is not a boundary; followed by an uppercase
word it is) would get it wrong. Keys are lowercase and carry no trailing period.

Four kinds of abbreviation, by what may follow them:

- ``titles``: stand before a name ("Dr. Meyer", "Sra. Rescia"); never end a sentence before a
  capitalised word or a number.
- ``never_final``: always followed by more of the sentence ("e.g.", "vgl.", "cf.").
- ``numeric``: stand before a number ("p. 55", "Nr. 5", "Tel. 0123"); a capitalised word after
  them is a new sentence ("I said no. Maybe later.").
- ``final``: usually end a phrase ("etc.", "usw.", "ecc."): a capitalised word or a number after
  them starts a new sentence, decided on its first character ("apples, etc. Everything").
- ``streets``: street types ("Ave.", "Rd.", German "...str."): a number after them is a house
  number ("Gartenstr. 7"); a capitalised word starts a new sentence unless it continues the
  address (``ADDRESS_WORDS``: "Suite", "NW", "Ecke").
- ``general``: can end a sentence ("Inc.", "Co.", "Jr."); a capitalised word after them starts a
  new sentence only when it is a typical sentence opener (``starters``): "Briggs & Co. It
  closed" splits, "GmbH & Co. KG is" does not.

Context changes some of these (see ``_words.py``): "St." and "Dr." after a capitalised word are
streets ("Main St. Then"), an abbreviation after a comma ends its phrase ("Washington, D.C.",
"Acme, Inc."), a time ("6 p.m.", "8 p. m.") ends the sentence before a capitalised word unless
that word is a time zone, a weekday or a month (``TIME_FOLLOWERS``), and a single letter after a
number is a unit ("18 h.", ``UNITS``), not an initial.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

from completions_core.types import LANGUAGES

__all__ = [
    "ADDRESS_PREFIXES",
    "ADDRESS_WORDS",
    "CONTEXT_WORDS",
    "LANGUAGES",
    "TIME_FOLLOWERS",
    "TIME_FOLLOWER_PREFIXES",
    "UNITS",
    "Rules",
    "prefixes",
    "rules_for",
]



def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# --- English (also the base of every other language: LLM answers mix in English terms) --------

_EN_TITLES = _words(
    """mr mrs ms messrs mssrs mmes dr drs prof profs rev revd hon gen col capt cpt lt sgt cmdr
    adm maj gov sen rep reps pres supt insp mt fr st sra srta"""
)
_EN_NEVER_FINAL = _words("e.g i.e cf vs viz esp w.r.t a.k.a aka approx ca incl excl resp")
_EN_FINAL = _words("etc")
_EN_STREETS = _words("ave blvd rd ln pkwy")
# Month and weekday abbreviations are "numeric": several are ordinary words somewhere ("mar",
# "ago", "set", "sun"), so only a number after them keeps the sentence going.
_EN_NUMERIC = _words(
    """no nos nr n° nº p pp pg vol vols ch chap sec sect fig figs art arts para eq eqs ref refs
    tab ver v op rs rm apt ste hwy rte pt pts fn tel ext jan feb mar apr jun jul aug sep sept
    oct nov dec mon tue tues wed thu thur thurs fri sat sun"""
)
_EN_GENERAL = _words(
    """co corp inc ltd llc plc bros jr sr esq phd dept depts univ assn assoc govt intl natl
    misc al ibid med btw ind"""
)
_EN_STARTERS = _words(
    """a an the i this that these those there here it he she we they you my our your his her
    their its what when where who whom whose why how which whatever however but and or so yet
    then now also still thus therefore hence meanwhile finally first second third next later
    today yesterday tomorrow if in on at for from with without after before during since while
    although though as because once until unless is are was were do does did can could will
    would should shall might must have has had being let let's please yes no not some many
    most all each every both few several any none nobody everyone everybody everything someone
    something anyone anything millions thousands hundreds more such other another to by of
    just only even instead otherwise besides furthermore moreover indeed perhaps maybe well oh
    ok okay sure thanks thank sorry note see one two three"""
)
_EN_FUNCTION = _words(
    """a an the of to in on at for from with by and or but nor as than that which who whose whom
    if into onto upon about over under between among through is are was were be been being has
    have had will would can could should shall may might must do does did not my your his her
    its our their this these those very such because while when where although though whether
    both either neither each every some any no"""
)

# --- German -----------------------------------------------------------------------------------

_DE_TITLES = _words("dr prof hr hrn fr frl dipl ing st pfr")
_DE_NEVER_FINAL = _words("z.b z.t z.z u.a u.ä o.ä d.h s.o s.u v.a i.d.r vgl ggf bzgl bzw evtl inkl zzgl ca sog lt")
_DE_NUMERIC = _words(
    """nr s abs art bd kap tel fax hausnr pos ziff jan feb mär apr jun jul aug sep sept okt
    nov dez mo di mi do fr sa so"""
)
_DE_GENERAL = _words(
    """med kath evang allg mio mrd jh jhd jhdt geb gest verh gez abt dt engl franz ital tsd"""
)
_DE_FINAL = _words("usw etc usf ff")
_DE_STREETS = _words("str")
_DE_STARTERS = _words(
    """der die das den dem des ein eine einer eines einen ich du er sie es wir ihr man mein meine
    sein seine unser unsere dies diese dieser dieses dort da dann danach aber und oder doch
    denn also auch nun jetzt heute morgen gestern hier was wer wie wo wann warum weshalb
    welche welcher wenn als ob obwohl weil im am beim zum zur vom in an auf mit nach bei von
    zu für ohne um über unter vor seit bis trotz während kein keine alle viele einige jeder
    jede jedes nicht ja nein bitte danke deshalb daher trotzdem außerdem zudem schließlich
    zunächst erst dabei dazu damit hat ist sind war waren wird werden kann können gibt"""
)
_DE_FUNCTION = _words(
    """der die das den dem des ein eine einen einem einer eines und oder aber sondern denn weil
    dass daß wenn als ob mit von zu zum zur in im an am auf aus bei beim nach für über unter
    vor durch gegen ohne um ist sind war hat haben wird werden kann nicht sich sehr wie"""
)
# "am 3. Oktober", "im 2. Stock": a number with a period after one of these is an ordinal.
_DE_ORDINAL_BEFORE = _words(
    """am vom zum im bis ab seit der die das den dem des zur beim ins ans aufs vor nach zwischen
    jeden jedem"""
)
_DE_ORDINAL_NOUNS = _words(
    """januar jänner februar märz april mai juni juli august september oktober november dezember
    jan feb mär apr jun jul aug sep sept okt nov dez jahrhundert jahrhunderts jahrtausend jh
    jhd klasse platz rang stock etage liga mal auflage ausgabe kapitel weltkrieg weltkriegs
    advent geburtstag jahrestag semester quartal lebensjahr bundesliga runde spieltag tag"""
)

# --- Spanish ----------------------------------------------------------------------------------

_ES_TITLES = _words(
    """sr sra srta sres sras dr dra lic ing arq prof profa dña dn ud uds vd vds mtro mtra pbro
    sto sta gral cnel av avda pza"""
)
_ES_NEVER_FINAL = _words("ej p.ej vid")
_ES_NUMERIC = _words(
    """núm nº n° pág págs art cap tel ext vol fig párr párrf cra no nro ene feb mar abr
    jun jul ago sep sept set oct nov dic lun mar mié mie jue vie sáb sab dom"""
)
_ES_GENERAL = _words("admón adm dpto depto cía hnos ee uu")
_ES_FINAL = _words("etc aprox")
_ES_STARTERS = _words(
    """el la los las un una unos unas lo yo tú él ella nosotros ellos ellas usted ustedes este
    esta esto estos estas ese esa eso aquí allí ahí hay es son era fue está están pero y o sin
    con en de del por para si cuando donde como qué quién cómo cuándo dónde porque aunque
    entonces luego después antes ahora hoy mañana ayer también además muy mi mis tu su sus
    nuestro nuestra no sí gracias todo todos todas cada algunos muchos ya así al"""
)
_ES_FUNCTION = _words(
    """el la los las un una y o u e pero que de del a al en con por para sin sobre entre es son
    fue muy se su sus mi lo como si ni"""
)

# --- French -----------------------------------------------------------------------------------

_FR_TITLES = _words("m mm mme mmes mlle mlles mgr pr dr st ste sts")
_FR_NEVER_FINAL = _words("cf c.-à-d c.-à-d. env")
_FR_NUMERIC = _words("n° no p pp art chap tél vol fig éd janv févr fév avr juil sept oct nov déc")
_FR_GENERAL = _words("av apr cie ltd hab sq coll trad dir")
_FR_FINAL = _words("etc")
_FR_STARTERS = _words(
    """le la les un une des du de je tu il elle on nous vous ils elles ce cet cette ces ça cela
    ceci mon ma mes son sa ses notre nos votre vos leur leurs mais et ou donc or ni car si
    quand où comme pourquoi comment qui que quoi quel quelle puis alors ensuite enfin après
    avant aujourd'hui demain hier ici là en dans avec pour par sur sous sans chez ne non oui
    merci tout tous toutes chaque plusieurs aussi cependant pourtant toutefois ainsi l j c d
    qu s n"""
)
_FR_FUNCTION = _words(
    """le la les un une des du de et ou mais que qui à au aux en dans avec pour par sur sous sans
    entre est sont ne se son sa ses leur ce cette comme si"""
)

# --- Italian ----------------------------------------------------------------------------------

_IT_TITLES = _words(
    """sig sigg sig.ra sig.na dott dott.ssa prof prof.ssa avv ing geom egr spett mons dir amm cav
    comm"""
)
# "es" alone is Spanish for "is": only the pair "ad es." is listed (see ``Rules.never_final``).
_IT_NEVER_FINAL = frozenset({"ad es", "cfr"})
_IT_NUMERIC = _words(
    """n nr num pag pagg art artt cap tel vol fig par gen feb mar apr mag giu lug ago set sett
    ott nov dic lun mer gio ven sab dom"""
)
_IT_GENERAL = _words("psicol meteor idraul econ az st")
_IT_FINAL = _words("etc ecc")
_IT_STARTERS = _words(
    """il lo la i gli le un uno una io tu lui lei noi voi loro questo questa questi queste quello
    quella quel ci c'è non ma e o se quando dove come perché chi che cosa anche poi allora
    dopo prima ora oggi domani ieri qui là in con per da di del della nel nella su sul è sono
    era ho ha abbiamo grazie tutto tutti ogni alcuni molti mi ti si ne già così inoltre quindi
    infatti però l"""
)
_IT_FUNCTION = _words(
    """il lo la i gli le un uno una e o ma che di del della dei delle a al alla in nel nella con
    per su sul da dal tra fra è sono non si come se"""
)

# The tables of all languages are merged when no language is set, so no entry may be a common
# word of another language ("on", "me", "gem" are English; "es" is Spanish).

# Names that end in an exclamation mark and are not the end of a sentence.
_EXCLAIM_NAMES = _words("yahoo jeopardy")

# What may follow a time ("9 a.m. Eastern", "6 p.m. PT", "10 a.m. Monday") in the same sentence.
TIME_FOLLOWERS = _words(
    """eastern central mountain pacific atlantic alaska hawaii et ct mt pt est edt cst cdt mst mdt
    pst pdt akst akdt hst gmt utc bst cet cest eet eest jst kst aest aedt sgt hkt
    mez mesz oez local monday tuesday wednesday thursday friday saturday sunday mon tue tues wed
    thu thur thurs fri sat sun january february march april may june july august september
    october november december jan feb mar apr jun jul aug sep sept oct nov dec montag dienstag
    mittwoch donnerstag freitag samstag sonntag"""
)
# What may follow a street type in the same address ("Baker St. Suite 4", "Ave. NW").
ADDRESS_WORDS = _words("suite ste apt unit fl floor rm room bldg n s e w nw ne sw se ecke")
# A single letter after a number is a unit, not an initial: "18 h. Venez", "5 m. Then".
UNITS = frozenset("hmsgl")


def prefixes(words: frozenset[str]) -> frozenset[str]:
    """Every prefix of every word: a next word whose beginning is not in it is not in ``words``."""
    return frozenset(word[:n] for word in words for n in range(1, len(word) + 1))


TIME_FOLLOWER_PREFIXES = prefixes(TIME_FOLLOWERS)
# Titles that the words around them can turn into streets ("Main St.", "Sunset Dr."): the
# shortcuts of the terminal rules leave them to the full rules.
CONTEXT_WORDS = frozenset({"st", "dr"})
ADDRESS_PREFIXES = prefixes(ADDRESS_WORDS)


@dataclass(frozen=True)
class Rules:
    """The tables for one language (or for all of them, when no language is set)."""

    titles: frozenset[str]
    never_final: frozenset[str]
    numeric: frozenset[str]
    general: frozenset[str]
    starters: frozenset[str]
    function_words: frozenset[str]
    exclaim_names: frozenset[str]
    german_ordinals: bool
    japanese_quotative: bool
    elision: bool
    ordinal_before: frozenset[str] = frozenset()
    ordinal_nouns: frozenset[str] = frozenset()
    final: frozenset[str] = frozenset()
    streets: frozenset[str] = frozenset()
    # German street names abbreviate their last part: "Gartenstr.", "Karl-Marx-Str.".
    street_suffix: bool = False
    abbreviations: frozenset[str] = field(init=False)  # every kind together
    # Each abbreviation's kind, as the word rules name it: one lookup instead of six.
    kinds: dict[str, str] = field(init=False, hash=False, compare=False)
    starter_prefixes: frozenset[str] = field(init=False)
    ordinal_noun_prefixes: frozenset[str] = field(init=False)
    # The words (lowercase) before ". Capital" and before "! Capital" / "? Capital" that the
    # scanner's fast path leaves to the full rules: every abbreviation, the titles that can be
    # streets ("Main St."), and after "!" or "?" the names that an exclamation may precede.
    fast_stop_period: frozenset[str] = field(init=False)
    fast_stop_strong: frozenset[str] = field(init=False)
    # The words before ".\n" that the fast path leaves to the full rules.
    fast_stop_newline: frozenset[str] = field(init=False)
    # The words before ". x" that never end a sentence there (titles, never-final abbreviations).
    fast_skip_period: frozenset[str] = field(init=False)
    # The last characters, other than letters and digits, of the abbreviations ("n°", "c.-à-d."):
    # the fast path leaves a word ending in one of them to the full rules.
    fast_abbreviation_ends: str = field(init=False)

    def __post_init__(self) -> None:
        everything = self.titles | self.never_final | self.numeric | self.general | self.final | self.streets
        object.__setattr__(self, "abbreviations", everything)
        kinds: dict[str, str] = {}
        # Listed from the weakest kind to the strongest, so that the strongest wins a word that
        # two kinds list (the language tables are made disjoint by rules_for already).
        for kind, words in (
            ("street", self.streets),
            ("final", self.final),
            ("general", self.general),
            ("numeric", self.numeric),
            ("never", self.never_final),
            ("title", self.titles),
        ):
            kinds.update(dict.fromkeys(words, kind))
        object.__setattr__(self, "kinds", kinds)
        stop = frozenset(kinds) | CONTEXT_WORDS
        object.__setattr__(self, "fast_stop_period", stop)
        object.__setattr__(self, "fast_stop_strong", stop | self.exclaim_names)
        # Before a line break, "es" and "ej" may be the end of a listed pair ("ad es.", "p. ej.").
        object.__setattr__(self, "fast_stop_newline", frozenset(kinds) | {"es", "ej"})
        skip = frozenset(word for word, kind in kinds.items() if kind in ("title", "never")) - CONTEXT_WORDS
        object.__setattr__(self, "fast_skip_period", skip)
        ends = "".join(sorted({word[-1] for word in kinds if not word[-1].isalnum()}))
        object.__setattr__(self, "fast_abbreviation_ends", ends)
        object.__setattr__(self, "starter_prefixes", prefixes(self.starters))
        object.__setattr__(self, "ordinal_noun_prefixes", prefixes(self.ordinal_nouns))


_NONE: frozenset[str] = frozenset()
_TABLES: dict[str, tuple[frozenset[str], ...]] = {
    "en": (_EN_TITLES, _EN_NEVER_FINAL, _EN_NUMERIC, _EN_GENERAL, _EN_STARTERS, _EN_FUNCTION, _EN_FINAL, _EN_STREETS),
    "de": (_DE_TITLES, _DE_NEVER_FINAL, _DE_NUMERIC, _DE_GENERAL, _DE_STARTERS, _DE_FUNCTION, _DE_FINAL, _DE_STREETS),
    "es": (_ES_TITLES, _ES_NEVER_FINAL, _ES_NUMERIC, _ES_GENERAL, _ES_STARTERS, _ES_FUNCTION, _ES_FINAL, _NONE),
    "fr": (_FR_TITLES, _FR_NEVER_FINAL, _FR_NUMERIC, _FR_GENERAL, _FR_STARTERS, _FR_FUNCTION, _FR_FINAL, _NONE),
    "it": (_IT_TITLES, _IT_NEVER_FINAL, _IT_NUMERIC, _IT_GENERAL, _IT_STARTERS, _IT_FUNCTION, _IT_FINAL, _NONE),
}


@cache
def rules_for(language: str | None) -> Rules:
    """Return the tables for ``language`` (one of :data:`LANGUAGES`), or all of them for None.

    Every language includes the English tables, because answers in any language quote English
    names and abbreviations; CJK languages have no abbreviations of their own.
    """
    if language is None:
        names = tuple(_TABLES)
    elif language in _TABLES:
        names = ("en", language) if language != "en" else ("en",)
    elif language in LANGUAGES:
        names = ("en",)
    else:
        raise ValueError(f"unknown punctuation_language {language!r}; expected one of {', '.join(LANGUAGES)}")
    merged = [frozenset[str]().union(*(_TABLES[name][k] for name in names)) for k in range(8)]
    titles, never_final, numeric, general, starters, function_words, final, streets = merged
    german = language in (None, "de")
    return Rules(
        titles=titles,
        # A title wins over the other kinds ("St." is Saint before a name).
        never_final=never_final - titles,
        numeric=numeric - titles - never_final,
        general=general - titles - never_final - numeric - final - streets,
        final=final - titles - never_final - numeric,
        streets=streets - titles - never_final - numeric - final,
        street_suffix=german,
        starters=starters,
        function_words=function_words,
        exclaim_names=_EXCLAIM_NAMES,
        german_ordinals=german,
        japanese_quotative=language in (None, "ja"),
        elision=language in (None, "fr", "it"),
        ordinal_before=_DE_ORDINAL_BEFORE if german else frozenset(),
        ordinal_nouns=_DE_ORDINAL_NOUNS if language == "de" else frozenset(),
    )
