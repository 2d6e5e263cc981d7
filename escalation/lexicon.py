"""Word lists for the handoff triggers, in folded form, across the languages visitors write in."""
from __future__ import annotations

from .text import fold


def words(text: str) -> frozenset[str]:
    """A whitespace-separated word list, folded the same way messages are."""
    return frozenset(fold(text).split())


# People a visitor may ask for. Strong nouns name a person on their own; weak ones
# ("support", "team") only count right after a verb like "talk to" / "transfer me to".
# The default counsellors are asked for by name ("can I speak with Sarah?").
PERSON = words("""
human humans hooman humen huma person persons people someone somebody anyone anybody
some1 sum1 sb smb somone somebdy agent agents representative representatives rep reps
counsellor counselor counsellors counselors conseller councellor councelor counseler
counsler councillor consellor advisor advisors adviser advisers advisor consultant
consultants staff operator operators
sarah michael emma david
humano humanos persona personas alguien agente agentes asesor asesora asesores
representante representantes operador operadora consejero consejera consultor consultora
ejecutivo ejecutiva
humain humains humaine personne quelqu conseiller conseillere conseillers operateur
operatrice representant
mensch menschen menschlichen jemand jemandem jemanden mitarbeiter mitarbeiterin
mitarbeitern berater beraterin ansprechpartner kundenberater
pessoa pessoas alguem atendente atendentes orientador
umano umani qualcuno operatore consulente consulenti rappresentante
insaan insan insaano aadmi admi vyakti banda bande kisi
इंसान इन्सान आदमी व्यक्ति एजेंट काउंसलर किसी
""")
PERSON_WEAK = words("""
support team service customer helpdesk desk manager supervisor expert specialist executive boss superior
equipo soporte equipe suporte squadra
""")
# Nouns after "human"/"agent"/"person" that turn it into a subject or a fee, not a person.
NOT_A_PERSON_AFTER = words("""
resource resources rights geography biology anatomy development behaviour behavior
capital sciences science nutrition computer interaction physiology genetics ecology
trafficking factors medicine fee fees commission commissions statement body centred centered
""")
# Qualifiers that make the person someone else's (a university's, an education agency's).
EXTERNAL_BEFORE = words("""
immigration travel recruitment estate insurance school schools
admissions admission bank embassy migration university uni college campus local another
other previous old former third party potential prospective phd research academic dissertation thesis
""")
EXTERNAL_AFTER = words("""
embassy university uni college school bank consulate admissions ucas ircc uscis
""")

CONTACT_VERBS = words("""
talk tlak taalk speak speek spek chat connect conect connet transfer tranfer trasnfer
escalate call phone ring contact reach forward redirect route switch patch hand pass put
hablar habla hable hablo comunicar comunicarme comunicame comuniqueme conectar conectame
contactar pasar pasame paseme pasa transferir transfiere transfiera charlar conversar
atienda atender
parler parle discuter contacter joindre relation passer passez transferer transferez
echanger appeler rappeler connecter
sprechen spreche reden rede verbinden verbinde verbindet chatten kontaktieren weiterleiten
falar fale falo conversar transfere transfira passar conectar contatar chamar
parlare parlo parli contattare passami passare collegare collegarmi collegami mettimi
trasferire trasferiscimi chattare chiamare sentire
baat connect milao milwa milwao milwado milna milva bulao bulaiye बात
talking speaking chatting ask asking discuss consult bring invite passi passa passate madad
email message text whatsapp dm reply respond verbindung kontakt word conversation
mettermi contatto contattarmi contattami
""")
# Verbs of wanting: "I want / need / give me a human".
WANT_VERBS = words("""
want wanna need needs gimme give get prefer request requesting require
quiero quisiera necesito busco veux voudrais besoin souhaite aimerais brauche mochte
hatte quero queria gostaria preciso voglio vorrei desidero chahiye chahie chaiye chahta
chahti
""")
# "Can I have ...", "Could you ..." — modal framing that turns a mention into a request.
MODALS = words("""
can could may might cn pueda puedo puede puis peux pourrais kann konnte konnen posso
possa poderia potrei sakta sakti sakte there hay gibt kya
""")
# Words that carry no request content, for "agent!" / "a real person please" style messages.
FILLERS = words("""
a an the real live actual proper please pls plz plss plox now asap right i want need me
give get one some por favor favour svp sil vous plait bitte per favore kripya ek koi hai
kya there here is are any available online yo hey hello hi ok okay just only with to
un una une um uma ein einen einem eine uno vrai vraie echter echten echte echt vero vera
de verdad asli sach yes ya yeah again immediately quickly fast seriously already for
can could hola bonjour hallo ola ciao namaste wala waala se talk speak chat connect
mujhe muje quiero veux will would like id wanna gimme let lemme your from educonsult being beings
around alive awake r ur
gibt es hier hay aqui alguno alguna il y tem ai algum alguma c e ci qui yahan wahan
""")
# Someone else as the subject: "can my professor talk to the admissions team" is not our visitor asking.
THIRD_PARTY_SUBJECTS = words("""
he she they professor professors parents parent father mother dad mom mum friend friends sponsor brother sister
uncle aunt teacher referee recommender university school college employer boss
""")
# Negations that cancel a following request ("I don't need to talk to anyone").
NEGATIONS = words("""
not dont doesnt didnt never wont without nao non ne pas nicht kein keine keinen nunca
jamais nahi nahin mat neither nor
""")
HINDI_NEGATIONS = words("nahi nahin mat")  # not "na": "insaan se, na ki bot se" means "rather than"
ME_WORDS = words("me mir mich moi conmigo comigo mi mujhe muje hume humse us back")
POSTPOSITIONS = words("se ko sey")
