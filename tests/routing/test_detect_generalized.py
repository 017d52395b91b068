"""Detection beyond the US formats (slow: real Presidio, spaCy and the MiniLM classifier).

One table per mechanism: country recognizers and context identifiers, normalised numbers, phones and
addresses in other formats, detect-secrets, the personal-matter classifier with the level rules, and
`version`."""
from __future__ import annotations

from pathlib import Path

import pytest

from routing.detect import PresidioDetector
from routing.levels import Level

RECOGNIZERS = Path(__file__).resolve().parents[2] / "routing" / "recognizers.yaml"
C, R = Level.CONFIDENTIAL, Level.RESTRICTED

pytestmark = pytest.mark.slow


IDENTIFIERS = [
    ("UK NI number: RT 48 29 17 D", {"UK_NINO", "NATIONAL_ID"}),
    ("aadhaar no 5931 2204 8817 for the contractor", {"IN_AADHAAR", "NATIONAL_ID"}),
    ("PAN card AKLPM7263Q attached", {"IN_PAN", "NATIONAL_ID", "FINANCIAL_ACCOUNT"}),
    ("DNI 73829104M de la empleada", {"ES_NIF", "NATIONAL_ID"}),
    ("her BSN is 271838492", {"NATIONAL_ID"}),
    ("cpf 718.294.305-61 no cadastro", {"NATIONAL_ID"}),
    ("the account number is 40718263 with sort code 30-94-57", {"FINANCIAL_ACCOUNT", "US_BANK_NUMBER"}),
    ("patient MRN 88120394 was discharged", {"RECORD_NUMBER"}),
    ("routing 122105155 for the deposit", {"ABA_ROUTING_NUMBER", "FINANCIAL_ACCOUNT"}),
    ("my visa card 4929 1832 0047 5513 got declined", {"CREDIT_CARD", "FINANCIAL_ACCOUNT"}),  # fails Luhn
    ("his ni no. is tw 61 40 27 b, lower case", {"UK_NINO", "NATIONAL_ID"}),
    ("cédula 52.871.903.114 del proveedor nuevo", {"NATIONAL_ID"}),  # dotted groups above 255: not an IP
    ("Reisepassnummer C7KX20F49 für die Buchung", {"NATIONAL_ID"}),  # the id word inside a German compound
    ("Krankenversichertennummer: A739201846, bitte eintragen", {"NATIONAL_ID"}),
    ("the CNIC 61101-7730214-5 of the new driver", {"NATIONAL_ID"}),
]


@pytest.mark.parametrize("text, entities", IDENTIFIERS)
def test_when_identifier_of_any_country_then_restricted_or_confidential(detector, text, entities):
    detection = detector.classify(text)

    assert entities & {f.entity_type for f in detection.findings}, detection
    assert detection.level >= C


@pytest.mark.parametrize(
    "text, original",
    [
        ("card four nine two nine one eight three two zero zero four seven five five one two", "four nine two nine one eight three two zero zero four seven five five one two"),
        ("ssn 5 3 6 9 0 4 4 1 7 please", "5 3 6 9 0 4 4 1 7"),
        ("account number oh six double four two nine triple eight one", "oh six double four two nine triple eight one"),
        ("numéro de compte zéro six, soixante-douze, quatre-vingt-onze, trente et un, zéro huit",
         "zéro six, soixante-douze, quatre-vingt-onze, trente et un, zéro huit"),
    ],
)
def test_when_number_spelled_or_spaced_then_found_on_the_original_span(detector, text, original):
    detection = detector.classify(text)

    assert detection.level == R
    assert original in {text[f.start:f.end] for f in detection.findings}, detection


@pytest.mark.parametrize(
    "text, entity",
    [
        ("could you tidy this up: 7 1 0 4 9 3 8 2 6 5 5 1", "SPACED_NUMBER"),  # no context word at all
        ("what do you make of eight one one four zero two nine three five", "SPACED_NUMBER"),
        ("decode this for me: BNCLSN81T62F205W", "IT_FISCAL_CODE"),  # check character wrong
        ("wire it to FR76 3000 6000 0112 3456 7890 188 tomorrow", "IBAN_CODE"),  # check digits wrong
        ("pay gb53acmb40473261928371 on friday", "IBAN_CODE"),  # lower case (the default registry's instance)
        # a birth date then more digits (Nordic, Balkan, Malaysian ... personal numbers), no context word
        ("Ebba Lund;197311052291;Malmö -- fix the columns", "NATIONAL_ID"),
        ("new joiner Tarik Begić 1507986171234, add him", "NATIONAL_ID"),
        ("ref 651204-10-7781 for Siti's enrolment", "NATIONAL_ID"),
        ("rijksregister 85.07.30-033.61 klopt dat?", "NATIONAL_ID"),
        ("マイナンバー 6310 2847 5519 を登録して", "NATIONAL_ID"),              # an id word in another script
        ("pasaporte PAB482913 de Lucía para el viaje", "NATIONAL_ID"),         # "passport" in Spanish
        ("kimlik no 38215509174 formda eksik", "NATIONAL_ID"),
        ("מספר זהות של נועה: 058372914", "NATIONAL_ID"),                      # an id word in Hebrew
        ("паспорт Олега 4511 204871, нужен для визы", "NATIONAL_ID"),
        ("6723 0418 9952 came in on the scanned form, whose is it?", "NATIONAL_ID"),  # an Aadhaar as written
        ("tenancy form wants 784-1991-5520184-7, is that format right?", "NATIONAL_ID"),  # an Emirates ID
        ("P<NLDVRIES<<ANKE<<<<<<<<<<<<<<<<<<<<<<<<<<<<\nread this passport line", "NATIONAL_ID"),  # an MRZ line
        ("my ssn got split:\n623-\n58-\n1047", "SPACED_NUMBER"),                 # over lines at its dashes
    ],
)
def test_when_identifier_without_context_or_valid_checksum_then_still_found(detector, text, entity):
    detection = detector.classify(text)

    assert entity in {f.entity_type for f in detection.findings}, detection
    assert detection.level >= C


@pytest.mark.parametrize("text", ["the LB at 10.0.12.7 checks 10.0.12.8:8443 for the account service",
                                  "invoice INV-00482193 shows the wrong VAT rate, how do I get it corrected?"])
def test_when_ip_address_or_invoice_number_then_not_an_account(detector, text):
    assert detector.classify(text).level < C


@pytest.mark.parametrize("text", ["東京都の人口は多い", "서울로 출장 가요", "上海市的天气很好"])
def test_when_place_name_without_a_street_number_then_no_address(detector, text):
    assert "STREET_ADDRESS" not in {f.entity_type for f in detector.classify(text).findings}


@pytest.mark.parametrize("text", [
    "the sprint review is about the new board layout",              # "layout" is an English word first
    "Is 000-00-0000 a valid social security number or a filler?",   # never issued: a filler value
    "PO 4500187723 needs a second approver",                        # a purchase order's number, not an NHS number
    "la factura nº 2025/8812 salió duplicada, ¿cómo la anulo?",      # a record word in another language
    "ticket CHG0045127 is blocked on the change board",               # a ticket id with letters first
    "does ISO 27001 require yearly access reviews for every account?",  # a standard's number
    "consumer stuck: topic=orders partition=3 offset=88412907 lag=1204",  # log fields, not phones
    "artifact app-2.1.0+build.20250917 failed its smoke test",         # a compact date in a build tag
    '{"id": "evt_8KfT2mQ9xRwL4pZa", "type": "charge.failed", "created": 1770000123}',  # object id, Unix time
    "compose has DB_PASSWORD: ${DB_PASSWORD:?set it in .env}, what does :? do?",  # a shell template
    "the GRN 5000418832 is missing from the goods receipt report for PO 4500981123",  # a goods receipt
    "Rechnungsnummer 2026004471 fehlt auf dem Beleg",                  # a record word inside a compound
])
def test_when_word_or_number_only_looks_like_an_identifier_then_not_confidential(detector, text):
    assert detector.classify(text).level < C, detector.classify(text)


@pytest.mark.parametrize("text", ["the build ran 3 4 times", "pick 1 2 3 of these", "release v2.4.1 broke the build"])
def test_when_short_spaced_digits_then_no_spaced_number(detector, text):
    assert "SPACED_NUMBER" not in {f.entity_type for f in detector.classify(text).findings}


@pytest.mark.parametrize(
    "text, entity",
    [
        ("ring me on 07700 900123 tonight", "PHONE_NUMBER"),
        ("crm export: name=Ines Duarte mobile_number=07700 900456 city=Porto", "PHONE_NUMBER"),  # a phone's field
        ("for the visa file, job id AB482913 is her passport number", "NATIONAL_ID"),  # 2 letters: not a ticket
        ("son portable: 06 71 82 93 04", "PHONE_NUMBER"),
        ("WhatsApp +91 98450 12345 for the keys", "PHONE_NUMBER"),
        ("please post it to 9 Rosebery Avenue, Brighton BN2 3PL", "STREET_ADDRESS"),
        ("sie wohnt in der Gartenstraße 14, 10115 Berlin", "STREET_ADDRESS"),
        ("adres: Prinsengracht 88, 1015 EA Amsterdam", "STREET_ADDRESS"),
        ("he lives at 12 Wattle Street, Ultimo NSW 2007", "STREET_ADDRESS"),
        ("my flat is at 4B Lajpat Nagar, New Delhi 110024", "STREET_ADDRESS"),
        ("민준 씨 집 주소: 부산광역시 해운대구 센텀중앙로 55, 1203호", "STREET_ADDRESS"),
        ("彼女の住所は大阪府大阪市北区梅田3丁目4番5号です", "STREET_ADDRESS"),
        ("寄到他家：广州市天河区体育西路88号", "STREET_ADDRESS"),
        ("送到 杭州市西湖区文三路120弄8号 她家", "STREET_ADDRESS"),                      # a lane number
        ("para Camila: Carrera 15 #82-41 apto 302, Medellín", "STREET_ADDRESS"),
        ("his place is Plot 22, Ajose Adeogun Street, Victoria Island", "STREET_ADDRESS"),
        ("身份证 440106199204157823 的那位同事", "NATIONAL_ID"),                           # shape alone
        ("주민번호 880512-2345671 입력해 주세요", "NATIONAL_ID"),
        ("CURP GOMR850412MDFRRS09 para el alta", "NATIONAL_ID"),
        ("ssn 418_62_9035 came out of the export like that", "NATIONAL_ID"),             # underscores
        ("company car registration for Tomoko Ishida is KP19 WFD, draft the note", "RECORD_NUMBER"),  # a plate
        ("Agnes bor på Hornsgatan 12, 118 20 Stockholm", "STREET_ADDRESS"),
        ("send the card to Via Giuseppe de Rossi 12 please, for Lorenzo", "STREET_ADDRESS"),
    ],
)
def test_when_contact_detail_in_other_formats_then_confidential(detector, text, entity):
    detection = detector.classify(text)

    assert entity in {f.entity_type for f in detection.findings}, detection
    assert detection.level >= C


@pytest.mark.parametrize(
    "text, sensitive",
    [
        ("the sftp password: Kr4k0w-Bridge!9", True),
        ("GITHUB_TOKEN=ghp_Zt5kL9mQ2xR8vN3cB6hJ1pW4sY7dF0gE2aU5", True),
        ("postgres://report:Pl4nk-ton9@10.0.0.7:5432/bi", True),
        ("Set api_key=YOUR_API_KEY in the config file.", False),
        ("Authorization: Bearer <token>", False),
        ("export SECRET_KEY=${SECRET_KEY}", False),
        ("How long must a password be?", False),
        ("admin pw on the staging db: Walrus-Tide-5521", True),                 # a short word, a qualifier
        ("the passphrase for my key is 'amber lantern river 19'", True),        # quoted, with spaces
        ("my authenticator code is 604 218, it keeps expiring", True),         # a one-time code
        ("curl -H 'Authorization: Bearer 1c9e4b7a-58d2-4f03-a6b1-0e7d3c92f5aa' https://api.example.com", True),
        ("How often should one-time codes expire?", False),
        ("curl -H 'Authorization: Basic cm9vdDpNYXJsaW4tOTk0' https://intranet.example", True),  # basic auth
        ("mysqldump -u backup -pQuokka#2231 sales > dump.sql", True),            # a password flag
        ("run mkdir -p /srv/www and docker run -p 8080:80 web", False),          # flags that are not
        ("vpn in as ops with password heron4417 then restart it", True),
        ("my seed phrase is: lake copper ribbon salt mirror eagle fern quiet dune pilot maple swan", True),
        ("We offer basic training in 12 languages.", False),
        ("the hotspot pw hasn't changed since spring: Marigold-Otter-37", True),  # a chosen password, far from its word
        ("as root I used Granite_Vole88 and it let me in", True),
        ("Which is better for the team, 1Password or KeePass?", False),          # a product name
        ("the keypad code for the archive room is 5-3-9-0", True),               # a physical access code
        ("garage door combination: 41 77 20", True),
        ("status code 503 since the deploy, why?", False),
        ('{"app": "billing", "client_secret": "p7Qw2Lx9Rt4Vb8Nz3Ks6"}', True),  # a quoted JSON key
        ("password: ${SMTP_PASSWORD} in the compose file is not substituted", False),  # templated
        ("DSN is mysql://USER:PASSWORD@HOST/db, what do I put where?", False),
        ("logins are deploy_bot:Fj4#kLw9zQ for the build box", True),              # a user:password pair
        ("wget --user ftpuser:Owl-Rain-518 ftp://files.example/x.zip fails", True),
        ("ldapwhoami -x -D cn=reader,dc=acme,dc=example -w 'Crane!Marsh4'", True),
        ("the hallway printer pin is 5521, how do I scan to my inbox", True),        # a PIN
        ("the filevault recovery key is 7KQ2-9XMD-44RT-PL0Z, the mac wants it", True),
        ("mailer api key 0c7b1e94-2d3f-4a58-b6e1-93fa7c20d4b8 returns 401", True),  # a UUID-shaped token
        ("メールのパスワードは Hinoki_Mori77 です", True),                           # a password word in Japanese
        ("la clave del wifi de la oficina es Girasol_Azul92", True),               # a password word in Spanish
        ("mitt lösenord är Bjork.Sjo.58 men det funkar inte", True),
        ("I got the code 730 118 by sms, why does duo still refuse it?", True),     # a one-time code
        ("admin/admin failed, then admin/Acme@Gate2027 worked on the reader", True),
        ("gym locker: 4418, Chidi asked if it changed", True),
        ("merge feature/Login-page2 into main", False),                          # a branch, not a login
        ("error code 500 100 on the gateway", False),
        ("python: secret = vault.read_secret('db')", False),                       # a call, not a value
        ("tf: password = var.admin_password and sensitive = true", False),         # a reference
        ("the docs use postgres://user:password@localhost/app as the sample", False),
        # password-shaped strings with no password word at all; and look-alikes that are not secrets
        ("to get into the reporting box use ops_ro and then Qm7&vT2kLp9x", True),
        ("staging: deploy:W8r#Kq2mZt4 (keep it in the team)", True),
        ("el acceso del router es Hj4$kLm9Pq", True),
        ("is 1.0.0-Alpha+exp.sha.5114f85 valid semver?", False),
        ("decode SGVsbG8gZnJvbSB0aGUgQ0kgam9i= please", False),                    # base64 padding, no symbol
        ("tag the post #Q3Launch2026 and @DevRel_Team2", False),                    # a hashtag, a mention
        ("mysql says Access denied (using password: YES), why?", False),
        ("пароль от почты: Tk82nLq5Rz, смени его", True),                            # a password word in Russian
        ("la clave del wifi de la sala de juntas de Quito es pRtlqwzxmn4.", True),   # the word far from its value
        ("hasło do drukarki jest kwiatek77", True),
        ("what is the clave in this salsa rhythm, 3-2 or 2-3?", False),
        # a password with no digit (small, capital letters and a symbol) next to a password word
        ("Yeni şifrem kaRTal&DeniZ, kimseye söyleme", True),
        ("login for the kiosk: passwort ist wALd!BeeRe", True),
        # a wallet's recovery phrase: twelve BIP-39 words, with or without a label
        ("backup for later: rocket tissue garden elbow lunar vessel crisp harvest noble pepper sunset tribe", True),
        ("my wallet words, saved here: copper violin (mostly) remember", False),  # too few words
        ("please review this report about all access you can use at the team budget review", False),
        # object ids and documented keys are not secrets
        ('webhook payload {"object": "charge", "id": "ch_3PzR9tQw2e"} failed, why?', False),
        # an access code in another language, next to its door or safe word
        ("de kluis in het magazijn gaat open met 4 7 1 9 0 3, niet doorsturen", True),
        ("der Tresor im Büro: Code 6 2 9 1 4 8", True),
        ("the door code for the lab is 4#8210*", True),
        # spelt out for a call, on a command line, in a URL, after its label, in a key file
        ("wifi password is capital R romeo four four bravo hash seven zulu", True),
        ("mytool deploy --token Qm7rT2kLp9XwZ4vN8bHc1 --env prod", True),
        ("download https://bucket.example/x.csv?X-Amz-Signature=9f2c4e81b7a05d3361ce8f0a2b4d6e71", True),
        ("post to https://chat.example/v1/webhook/AAQA9x3Lk2/kq7PzT4mW8nR2vX6bY1cJ5dH", True),
        ("BitLocker key 402919-118203-557781-630014-291115-808844-114763-592208 for my laptop", True),
        ("Notion PAT secret_Jp4kT9wLm2Qx7zR3vN8bC5dF1hG6 stopped working", True),
        ("config/master.key holds 3e9b1c77a0d24f58b6e1c9a2f0d47b3c, is that right?", True),
        ("add my key: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK7q0Lp2Zx9Wm4Tn8Rv3Yb6 kai@laptop", False),  # public
    ],
)
def test_when_secret_or_placeholder_then_only_the_secret_is_restricted(detector, text, sensitive):
    detection = detector.classify(text)

    assert (detection.level == R) == sensitive, detection


@pytest.mark.parametrize(
    "passage, sensitive",
    [
        ("Travel policy: Claims must be submitted within 30 days of returning from the trip; late claims "
         "need approval from your manager.", False),                             # a policy page
        ("Code of conduct: Acme prohibits retaliation against anyone who raises a concern or cooperates "
         "with an investigation.", False),
        ("Escalations: Marisol Quenby was signed off for three weeks after her surgery; cover the "
         "rota until she is back.", True),                                       # a named person's matter
    ],
)
def test_when_document_passage_then_personal_matter_needs_a_named_person(detector, passage, sensitive):
    detection = detector.classify(passage, passages=True)

    assert (detection.level >= C) == sensitive, detection


@pytest.mark.parametrize("text, sensitive", [
    ("order SO-4471-20933 is stuck in picking, any idea why?", False),         # a record's number
    ("build 20261203.7 fails the smoke test", False),
    ("convert epoch 1712345678 to a date", False),                             # not a birth-date id
    ("which cost centre is invoice 2311150042 booked to?", False),
    ("the customer portal lists invoice #B-771204 as paid", False),
    ("ring me on 020 7946 0381 about ticket 5512", True),                       # a phone next to a ticket
    ("kargo takip numarası 4418 2290 57 iki gündür aynı yerde, normal mi?", False),  # Turkish "tracking number"
    ("DHL waybill 5531209876 says on hold, is that customs?", False),
    ("the clinic's main switchboard is 020 7946 0123, put it in the footer", False),  # a public line
    ("does the fix for CVE-2021-4428 need a restart of the gateway?", False),  # a code, not a phone
    ("the vendor's helpdesk is +1 800 555 0147, ask them for the RMA form", False),  # a toll-free line
    ("text Jonas on 090-4471-2093 when the van arrives", True),                # a Japanese mobile
])
def test_when_a_record_word_names_the_number_then_it_is_not_a_phone(detector, text, sensitive):
    detection = detector.classify(text)

    assert (detection.level >= C) == sensitive, detection


@pytest.mark.parametrize("text, as_passage, sensitive", [
    ("Our Leeds office is at 4 Quarry Row, Leeds LS1 4AP.", True, False),   # the company's address on a page
    ("Our Leeds office is at 4 Quarry Row, Leeds LS1 4AP.", False, False),  # a business place named next to it
    ("is there parking at the venue, Hotel Marlow, Kaiserstraße 12, 60311 Frankfurt?", False, False),
    ("Meet me at Bellfield Ltd, 88 Corran Crescent, Tarbet", False, True),   # no place named: fail closed
    ("my home address is 7 Rue des Tanneurs, 69003 Lyon, near the hotel", False, True),  # a home beside it
    ("Ines moved, she lives at 14 Fernhill Grove, Leeds LS6 2QT now, two minutes from our office", False, True),
    ("Brightline HQ is at 77 Saltmarsh Road, Hull HU2 8QT, where do visitors park?", False, False),
    ("the summit is at Rivergate Hall, 3 Wool Lane, York YO1 7EP, book rooms nearby", False, False),
    ("l'adresse de notre bureau : 18 rue des Carmes, 31000 Toulouse, pour le courrier", False, False),
    ("our Oslo office at 5 Fjordgata, Tjuvholmen Square, needs a new door sign", False, False),  # a place, not a person
    ("the summit dinner is at Ruth Galloway's house, 3 Wool Lane, York YO1 7EP", False, True),  # someone's home
    ("the bundle is 40 GB for 12.50 a month, deliver a comparison table", False, False),  # a price
    ("courier ref 1Z 482 BB7 03 5521 9904 was left at the depot", False, False),  # a parcel code
    ("send the parcel to 91 Ostbahnhofweg 12 by Friday", False, True),     # a street between two numbers
])
def test_when_business_place_named_next_to_an_address_then_demoted_unless_someone_lives_there(
        detector, text, as_passage, sensitive):
    detection = detector.classify(text, passages=as_passage)

    assert (detection.level >= C) == sensitive, detection


@pytest.mark.parametrize("text", [
    r"Name: Odile Farrant\nAddress: Kestrel Yard and Moss 14",              # escaped line breaks, pasted
    "Parcel for Lucan Orme, 2767 40th Street, Calgary",                      # a numbered street
    "shipping to my flat: 7-2-118, Begumpet, Hyderabad 500016",
    "Send the badge to Rei Aoki, 〒150-0002 Tokyo, Shibuya-ku 2-21-1",
    "home address for the courier: B-14 Sector 62 Noida 201309",
    "la casa de Matías queda en Av. Santa Fe 2211, piso 3, C1123 CABA",      # a street-type word first
    "envía el sobre a Lola, C/ Doctor Fleming 14, 2º A, 28036 Madrid",
    "Selin'in ev adresi Atatürk Cad. No:88 D:4, 35220 Konak/İzmir",          # a street-type word after
    "hjemmeadresse til Ola: Kirkeveien 12 B, 0368 Oslo",
    "η διεύθυνση του Νίκου: Οδός Πατησίων 120, 112 57 Αθήνα",
    "ที่อยู่บ้านของคุณสมชาย 45/7 ถนนพหลโยธิน กรุงเทพฯ 10400",               # "address" in Thai, then a number
    "курьер к Вере: ул. Малая Бронная, д. 22, кв. 7, Москва",                # "д." before the house number
    "ส่งพัสดุไปที่ บ้านเลขที่ 118/4 ซอยอารีย์ 5 พญาไท กรุงเทพฯ",                     # a Thai house number
    "Villa 7, Street 32a, Al Safa 1 is where Omar lives now",                # a villa and a numbered street
    "Mette er flyttet til Østerbrogade 41, 2100 København Ø",                 # a street name with ø
    "عنوان منزل ليلى: 27 شارع النخيل، الشقة 4، الإسكندرية",                    # "address" in Arabic
    "ჩემი მისამართი: ბათუმი, რუსთაველის ქ. 12, ბინა 5",                         # "address" in Georgian
    "আমার ঠিকানা: ৭/১ গড়িয়াহাট রোড, কলকাতা",                                     # in Bengali, Bengali digits
    "Morada para a fatura: Rui Lopes, Rua das Flores 42, 3º Dto, Braga",       # a label, words, a colon
    "Mi dirección es Calle Los Pinos 318, Temuco",                              # a label and "es"
    "send it to Kasun at No. 14/3, Lake Road, Kandy",                          # "No." and a comma
    "البيت: عمارة 9، شارع الجلاء، الدور الثاني",                                  # building, then street (Arabic)
    "my place is Lot 17, Ridgeview Drive, Mandeville",                         # a lot number
])
def test_when_address_with_house_number_and_postcode_then_confidential(detector, text):
    detection = detector.classify(text)

    assert detection.level >= C and "STREET_ADDRESS" in {f.entity_type for f in detection.findings}, detection


@pytest.mark.parametrize(
    "text, sensitive",
    [
        ("Has Cordelia Voss told anyone about her cancer diagnosis?", True),    # named person + health
        ("what bonus is Ravindra getting this year", True),                      # named person + pay
        ("Which employees were disciplined after the audit?", True),             # group + discipline
        ("Who was named in the bullying complaint last month?", True),           # group + investigation
        ("How many sick days do we get per year?", False),                        # policy on the topic
        ("What is the process for reporting harassment?", False),
        ("Ask Cordelia to send the slides for the demo.", False),                 # named person, work matter
        ("our intern mateus got arrested over the weekend, do we have to tell the client?", True),  # lower case
        ("will the grace period for expense claims change in may?", False),       # name-like common words
        ("is Marisol Quint still in arrears on the relocation advance?", True),  # named person + debt
        ("remind Marisol that we owe the vendor an answer by friday", False),     # "owe", not money
        ("nominate Teodor for the team award, he rebuilt the deploy pipeline", False),  # named, ordinary work
        ('Traceback (most recent call last):\n  File "svc/jobs.py", line 88, in run\n    raise ValueError('
         '"salary band missing for grade 7")', False),                           # "File" is no one's name
        ("the complaint about Baker from the night shift is back, he was drunk on duty again", True),  # a surname
    ],
)
def test_when_personal_matter_then_confidential_unless_general_policy(detector, text, sensitive):
    detection = detector.classify(text)

    assert (detection.level >= C) == sensitive, detection
    if sensitive:
        matter = [f for f in detection.findings if f.entity_type == "PERSONAL_MATTER"]
        assert matter and matter[0].topic, detection


@pytest.mark.parametrize("text, sensitive", [
        ("정민호 씨 징계 절차를 어떻게 시작하나요?", True),                         # Korean: honorific name + discipline
        ("鈴木さんが来週から病気で休職します、チームへの伝え方は？", True),        # Japanese: name + sick leave
        ("陈静的签证下个月到期，帮我写邮件给法务", True),                           # Chinese: surname + visa
        ("田中さん、明日の会議の資料をお願いします", False),                         # a name, ordinary work
        ("我们的绩效评估流程是怎样的？", False),                                     # policy, no one
        ("list the analysts on the risk team by how much they earn", True),       # a group's pay
        ("the new guy in finance has diabetes, how do I plan the team lunch?", True),  # a role + health
        ("how much bonus did the warehouse shift leads get after the audit?", True),  # what a group got
        ("列出下周要被约谈的员工名单和他们的绩效问题", True),                          # "list of employees" in Chinese
        ("quels employés ont encore des saisies sur salaire ce mois-ci ?", True),   # "which employees" in French
])
def test_when_matter_word_next_to_a_name_role_or_group_then_confidential(detector, text, sensitive):
    """The rules, not the classifier: Chinese, Japanese and Korean (which the classifier cannot read) by a
    term list and a name marker; a group's pay; a role's health."""
    assert (detector.classify(text).level >= C) == sensitive


def test_when_engine_built_then_each_recognizer_runs_once(detector):
    detector.warm_up()
    names = [r.name for r in detector._engine.registry.recognizers]

    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)
    assert {"PhoneRecognizer", "IbanRecognizer", "IbanRecognizerChecksumOptional"} <= set(names)


def test_when_version_read_then_short_stable_and_tied_to_the_classifier(detector, classifier_embedder):
    without_classifier = PresidioDetector.from_yaml(RECOGNIZERS)

    assert detector.version == PresidioDetector.from_yaml(RECOGNIZERS, embed=classifier_embedder.embed).version
    assert len(detector.version) == 12 and detector.version != without_classifier.version


@pytest.mark.parametrize("text, sensitive", [
    ("wire it to GB33 BUKB 2020 1555 5555 99 for Ilse", True),      # a UK layout, check digits wrong: kept
    ("tracking JD014600006281234567 and 1Z 4F9 0W2 03 1884 2210", False),  # no country's IBAN layout
    ("company number SE556677889901 on the invoice header", False),  # Sweden's IBANs have 24 characters
])
def test_when_iban_checksum_fails_then_only_a_real_country_layout_counts(detector, text, sensitive):
    detection = detector.classify(text)

    assert ("IBAN_CODE" in {f.entity_type for f in detection.findings}) == sensitive, detection


@pytest.mark.parametrize("text", [
    "pod api-5c8d7f9b6-q2wzk_default restarted 41 times, how do I read the previous logs?",  # a resource name
    "the artifact release-4f2a9c1.zip is missing from the wifi password reset runbook page",  # a file name
    "existingSecret: pg-credentials\n  secretKeys:\n    adminPasswordKey: postgres-password",  # key names
    "Revenue 2025 2024\nEurope 412.3 388.1\ncompute the growth",                # a table, not a street
])
def test_when_names_files_or_tables_look_like_secrets_or_streets_then_neither(detector, text):
    found = {f.entity_type for f in detector.classify(text).findings}

    assert not found & {"CREDENTIAL", "STREET_ADDRESS"}, found


@pytest.mark.parametrize("text", [
    "when you reach Tema Community 5, my house is the blue one behind the Anglican church, third gate after the pharmacy",
    "Traduis en anglais : « Les colis pour Odile vont chez elle, 7 allée des Cerisiers, Lannion. »",
    "請翻譯：林志明先生住在高雄市苓雅區四維三路 18 巷 5 號 3 樓，請把文件寄到他家。",
    "deliver to my mum's place: Farm Kleinbegin, 14 km past Calvinia on the R27, white gate on the left",
])
def test_when_home_location_described_in_any_form_then_confidential(detector, text):
    """The classifier's `home` topic: a private home given by landmarks, in a translation task, in another
    script, or on a farm road (no street-and-number pattern needed)."""
    detection = detector.classify(text)

    assert detection.level >= C
    assert {"HOME_LOCATION", "STREET_ADDRESS"} & {f.entity_type for f in detection.findings if f.level >= C}


@pytest.mark.parametrize("text", ["PO 4500187723 needs a second approver before Friday",
                                  "Is Hafnarstræti in Reykjavík a good street for the new office?"])
def test_when_the_classifier_reads_a_place_with_nobody_there_then_it_stays_below_confidential(detector, text):
    """HOME_LOCATION never stands alone: a person, a possessive or a home word must be near it."""
    detection = detector.classify(text)

    assert all(f.level < C for f in detection.findings if f.entity_type == "HOME_LOCATION"), detection


@pytest.mark.parametrize("text, sensitive", [
    ("vault master passphrase is: amber falcon crossing over lime hills, do not share", True),
    ("I set the key's passphrase to 'seven paper boats drift past noon' yesterday", True),
    ("the MFA secret for the ops account is KZXW 6YTB OI4T EYLM NFZC 4Y3F (base32)", True),
    ('{"guest":{"name":"Oren Falk","passport":"P7720193K","nationality":"ISR"}}', True),   # compact JSON
    ("জাতীয় পরিচয়পত্র নম্বর 3318 0742 9901 524, রুমানা আক্তার", True),             # Bengali id-card label
    ("Use a passphrase: at least four random words, never reused", False),
    ("how long should a passphrase be? is four random words enough for 2024", False),
    ("the master password is stored in the vault and rotated every 90 days", False),
])
def test_when_passphrase_seed_or_compact_record_then_restricted_but_not_policy_text(detector, text, sensitive):
    assert (detector.classify(text).level >= R) == sensitive


@pytest.mark.parametrize("text, sensitive", [
    ("the docs use NL20 INGB 0001 2345 67 as the example, why does our check reject it?", False),
    ("the signup form shows the placeholder AB 12 34 56 C in the NI number field, keep it?", False),
    ("het voorbeeld in de documentatie is BE71 0961 2345 6769, klopt de controle?", False),
    ("pay my refund to BE71 0961 2345 6769, for example by Friday", True),  # a bare "example": fail closed
])
def test_when_an_identifier_is_the_documentation_example_then_not_confidential(detector, text, sensitive):
    detection = detector.classify(text)

    assert (detection.level >= C) == sensitive, detection


@pytest.mark.parametrize("text, sensitive", [
    ("quels sont les délais de remboursement pour un vol annulé ?", False),  # "les" is French, not Les
    ("uma pergunta sobre o reembolso de despesas de viagem", False),          # "uma" is Portuguese, not Uma
    ("how much sick leave has lena taken this year", True),                   # a lower-case name in English
    ("quanto tempo de licença médica a joana tirou este ano", True),          # and in Portuguese
])
def test_when_lower_case_word_is_common_in_the_texts_language_then_not_a_name(detector, text, sensitive):
    detection = detector.classify(text)

    assert (detection.level >= C) == sensitive, detection


@pytest.mark.parametrize("text, sensitive", [
    ("the cashbox PIN is 8 3 0 6, don't tell the temps", True),                    # typed digit by digit
    ("le code de la porte c'est 7 1 A 4 9, merci de le noter", True),
    ("safe combination: 14 right, 33 left, 8 right — for the night shift", True),  # a dial safe
    ("la chiave della rete wifi è tramonto-4471, la rete è Ospiti", True),           # Italian "key"
    ("parol ot routera: Berezka#2291, ne rabotaet", True),                            # Russian, transliterated
    ("a PIN has 4 to 6 digits, what does the bank block?", False),
    ("turn 3 right, 2 left turns and you reach the safe room", False),
])
def test_when_pin_code_or_combination_is_spaced_or_in_another_language_then_restricted(detector, text, sensitive):
    assert (detector.classify(text).level >= R) == sensitive


@pytest.mark.parametrize("text, sensitive", [
    ("need a dummy address for the form mockup, something like 42 Sample Road, Springfield", False),
    ("use Beispielweg 5, 10115 Berlin as the example in the help text", False),
    ("send the docs to Ilse Vermeulen, Kerkstraat 12, 2000 Antwerpen", True),  # "docs" with a person: fail closed
    ("schick es an meine Adresse, Lindenstraße 4, 04109 Leipzig, Beispiel folgt", True),
])
def test_when_address_is_a_placeholder_then_internal_unless_someone_is_named(detector, text, sensitive):
    detection = detector.classify(text)

    assert (detection.level >= C) == sensitive, detection


@pytest.mark.parametrize("text, sensitive", [
    ("mail the offer to priya dot raman at post dot example, her personal one", True),
    ("write to us at acme dot example for a quote", False),
])
def test_when_email_is_said_aloud_then_found(detector, text, sensitive):
    assert (detector.classify(text).level >= C) == sensitive


@pytest.mark.parametrize("text", [
    "does 046 454 286 look like a valid SIN to you?",
    "is JG 10 37 52 A a valid UK national insurance number format?",
    "PAN BKDPS4821K - can you check the format for the tds declaration",
])
def test_when_an_identifier_is_checked_for_its_format_then_it_stays_restricted(detector, text):
    # fail closed: a value whose look or format is being checked is usually someone's real number
    assert detector.classify(text).level >= R, detector.classify(text).findings


@pytest.mark.parametrize("text, sensitive", [
    ("guest wifi for the workshop: network LakeHouse, password Rq8!vTn2wz - add it to the invite", True),
    ("the password ResetFlow page explains how rotation works", False),   # no digit or symbol: a name
    ("which password manager is better for the team, Bitwarden or 1Password?", False),
])
def test_when_password_word_is_followed_by_a_mixed_value_then_restricted(detector, text, sensitive):
    assert (detector.classify(text).level >= R) == sensitive, detector.classify(text).findings


@pytest.mark.parametrize("text, sensitive", [
    ("the password rules: a 16-character minimum and a 90-day rotation for admins", False),   # number-word compounds
    ("ingest leaks memory after the key rotation, ~350MB per hour until restart", False),       # a quantity and unit
    ("new password for the ops vault is 48-Harbour-lights!", True),                               # still a password
    ("auth token ~9fQ2kd#Lx7 leaked in the log, rotate it", True),                                # still a token
    ("VPNのパスワードは90日ごとに変更すべきですか？", False),                            # a policy question
    ("VPNのパスワードは Kaede_2026 です、内緒で", True),                              # a value in ASCII
    ("fix my .env:\nGITLAB_TOKEN=\nLOG_FORMAT=json_lines\nPORT=8081", False),       # an empty value
    ("connection reset by peer on worker-12 after the password rotation job, why?", False),  # a worker's name
    ("the password change moved the replica to cache.m7g.large, is that expected?", False),  # an instance type
    ("the wifi password is lantern-8842 for the guests", True),
    ("why does ssh say 'invalid format' for a file that starts -----BEGIN OPENSSH PRIVATE KEY----- ? no key pasted", False),
    ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtz\n-----END OPENSSH PRIVATE KEY-----", True),
    ("-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,7F2A\n\nMIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM9Oi", True),
    ("workflow permissions: { id-token: write, contents: read } - enough for the OIDC login?", False),  # permissions
    ("after login the callback URL is /cb#access_token=…&state=x1 (token cut out), why blank?", False),  # elided
    ("ssh admin@10.20.30.40 fails since the password reset, which log do I read?", False),            # user@host
    # a password word, then a colon in the same clause; a passphrase on ssh-keygen's command line; a PIN typed in
    ("пароль от склада сменили, теперь такой: Берёза_7781 — перепиши сообщение", True),
    ("ssh-keygen -t ed25519 -N 'orange kites at dawn 1984' -f ~/.ssh/ci_key asks again, why?", True),
    ("when the alarm beeps, punch in 6 6 1 9 0 and press OFF, then close the door", True),
    ("413907, that's the code from my authenticator, log in quickly", True),
])
def test_when_a_password_word_sits_near_formats_names_quantities_or_empty_values_then_only_secrets_restricted(
        detector, text, sensitive):
    assert (detector.classify(text).level >= R) == sensitive, detector.classify(text).findings


@pytest.mark.parametrize("text, sensitive", [
    ("the account cert shows notBefore=Jun 7 09:30:00 2026 GMT, when does it expire?", False),  # a time
    ("the account is 7 093 300 2026 at Nordbank", True),                                       # an account
    ("the invoice number is six six one two zero four four nine, which supplier sent it?", False),  # a record's
    ("her account number is six six one two zero four four nine, update the payroll file", True),
    ("Halcyon Freight Ltd sent invoice INV-88120 twice, which one do we pay?", False),  # a supplier's name
    ("the Halcyon budget moved to Q3, keep it off the all-hands deck", True),           # the code name
    ("Project Halcyon Systems review is on Friday, draft the agenda", True),
    ("the nightly run 7719036452 failed again, call the release manager", False),  # a pipeline run's id
])
def test_when_a_number_or_code_name_belongs_to_a_time_record_or_company_then_not_confidential(detector, text, sensitive):
    assert (detector.classify(text).level >= C) == sensitive, detector.classify(text).findings


@pytest.mark.parametrize("text, level, sensitive", [
    # a context word inflected in another language still counts (Polish "w sejfie", Dutch "kluisje")
    ("klucz do serwerowni leży w sejfie (kod 2580), napisz instrukcję dla ochrony", R, True),
    ("mijn kluisje op kantoor heeft code 0815, kun je dat onthouden?", R, True),
    # a config directive and its value separated by spaces
    ("which of these would you change?\nport 6379\nrequirepass 9fK2xQ7mZp4LwR8sT1vN\nmaxmemory 3gb", R, True),
    ("why 502?\nlocation / {\n  proxy_pass http://backend01:8080;\n  auth_basic_user_file /etc/nginx/.htpasswd;\n}", R, False),
    ("is this sshd_config fine?\nPasswordAuthentication no\nMaxAuthTries 3", R, False),
    # a word that is itself a door code (keypads have letters A-D); "verification code" in another language;
    # a vendor key with an environment marker
    ("pour l'atelier, le digicode du portail est 3C872, merci de ne pas le partager", R, True),
    ("la politique du digicode : on le change tous les trimestres", R, False),
    ("支付宝发来的验证码是 583012，我没有申请过，怎么办？", R, True),
    ("INSERT INTO partners VALUES (7, 'Brightfold', 'acct_live_5c1e9a0b7d2f4e6a8b3c9d1e2f');", R, True),
    ("rename test_live_streaming_handler to something clearer", R, False),
    # a birth-date field name or label names the date
    ("to csv please:\n- name: Aino Kallio\n  team: Tax\n  birth_date: 1984-03-09\n- name: Bo Lind", C, True),
    ('{"dateOfBirth": "1990-07-14", "name": "Ruth Okoye"}', C, True),
    ("Geburtsdatum: 14.07.1990, Name: Ruth Okoye", C, True),
    ("the release date: 2024-03-09, owner Aino", C, False),
    # a name typed in lower case is read capitalised by the classifier, as it learnt names
    ("how many vacation days does ingrid still have this year?", C, True),
    ("how many vacation days do new starters get in their first year?", C, False),
    # a PIN typed digit by digit after 비번, the everyday Korean word for a password
    ("은행 앱 비번 4 8 1 5 맞지? 계속 틀렸다고 나와", R, True),
    ("비번 바꾸는 방법 알려줘, 3 단계에서 막혔어", R, False),
    # the same PIN read out in Korean, Chinese or Japanese digits
    ("사무실 금고 비밀번호는 구 공 육 삼이야, 메모해 둬", R, True),
    ("我的银行卡密码是 二 九 四 六，别告诉别人", R, True),
    ("暗証番号は〇八五七です。母に伝えておいて", R, True),
    ("비밀번호는 일 년에 한 번 바꿔야 하나요?", R, False),
    # a number written against Japanese or Chinese characters, or in another script's digits
    ("カード番号は4539 1488 0343 6467です、来月の出張で使います", R, True),
    ("カード番号は４５３９ １４８８ ０３４３ ６４６７です", R, True),
    ("मेरे पिता का आधार नंबर ४५६७ ८९०१ २३४५ है, फॉर्म में भर दो", R, True),
    ("カード番号は何桁ですか？16桁だと思います", R, False),
    # an address dictated in words, its block and unit numbers too short to be read as a number on their own
    ("courier the laptop to wen hui at block five two one clementi avenue three, hash zero seven dash two four four, "
     "singapore one two zero five two one", C, True),
    ("what is the postcode format in singapore, six digits like one two zero five two one?", C, False),
    # an IBAN whose country code and check digits are written apart
    ("Rückerstattung an Frau Lena Brandt: DE 12 5001 0517 0648 4898 90, danke", R, True),
])
def test_when_a_value_or_a_name_comes_in_a_form_the_tuning_sets_showed_then_found(detector, text, level, sensitive):
    assert (detector.classify(text).level >= level) == sensitive, detector.classify(text).findings


@pytest.mark.parametrize("text, found", [
    # a date next to "born" in another language, inflected or not, is a birth date
    ("cumple de maite? nacio el 14/02/1988, maite sanz ortega, mete en el alta", True),
    ("Kaan ist am 03.05.1991 geboren, bitte in die Versicherung eintragen", True),
    ("el plazo de alta vence el 14/02/2026, pregunta de maite", False),
])
def test_when_born_is_said_in_another_language_then_the_date_is_a_birth_date(detector, text, found):
    entities = {f.entity_type for f in detector.classify(text).findings}

    assert ("DATE_OF_BIRTH" in entities) == found, entities


@pytest.mark.parametrize("text, sensitive", [
    ("sending the router admin login in two messages\nfirst half: Pelican73\nsecond half: after lunch", True),
    ("I entered marigold58 three times this morning and now the account is locked, can you unlock it?", True),
    ("the shared inbox one starts with Walrus#4, then the rest is orange11, all lowercase", True),
    ("te mando la clave del wifi de la oficina por partes\nuno: Gaviota19\ndos: luego te digo", True),
    ("how do I reset the admin password on the RT-AX58U router?", False),
    ("ssh-keygen -t ed25519 asks for a passphrase, should I set one for the CI key?", False),
    ("curl -H 'Authorization: Bearer $API_TOKEN' returns 401 since the v2.3.1 upgrade, why?", False),
])
def test_when_a_secret_is_shared_without_a_password_word_next_to_it_then_restricted(detector, text, sensitive):
    detection = detector.classify(text)

    assert (detection.level >= R) is sensitive, detection
    assert any(f.entity_type == "CREDENTIAL" for f in detection.findings) is sensitive, detection


def test_when_a_document_passage_holds_a_secret_shaped_token_then_the_classifier_does_not_read_it(detector):
    passage = "Runbook: first half Pelican73, second half in the vault; rotate both after an incident."

    found = detector.classify(passage, passages=True).findings

    assert not [f for f in found if f.recognizer == "SharedSecretClassifier"]


@pytest.mark.parametrize("text, level, sensitive", [
    # a nationality names an identity document; a bare "ID" (an order's, a ticket's) does not
    ("Thai ID 1-1037-00123-45-6 for the Bangkok hire", R, True),
    ("israeli id: 012345674, add it to the relocation file", R, True),
    ("Philippine ID P1234567A of the new driver", R, True),
    ("the Thai ID card design changed this year, what is new on it?", R, False),
    ("ticket ID 48213377 was closed twice, why?", R, False),
    # Japan's "My Number" in Latin letters; Vietnam's id abbreviation typed in lower case
    ("My Number 4821 7730 1295 for the year-end adjustment", R, True),
    ("số cccd của anh trần văn minh là 079 204 118 362 nha", R, True),
    # a compound passport word before a number with few digits
    ("Reisepassnummer C7K2L9M4P für die Dienstreise nach Oslo", R, True),
    ("paspoortnummer NX4K8LP21 van de nieuwe collega", R, True),
    # a card's security code
    ("card ending 4242, exp 09/28, cvv 731, book the hotel for me", R, True),
    ("where do I find the CVV on a corporate card?", R, False),
    # a passphrase of words joined by dashes after a password word
    ("pw is lantern-orbit-maple-seven but it says invalid", R, True),
    ("is the password field case-sensitive?", R, False),
    # an insurance policy number whose prefix starts like a purchase order's "PO"
    ("policy number POL-77213390 for the life insurance of Mr Brandt", C, True),
    ("PO4500187723 needs a second approver before Friday", C, False),
    # a password word in Thai or Hindi, scripts without word boundaries before the value
    ("รหัสผ่านอีเมลของผมคือ Lotus@4471 ช่วยล็อกอินให้หน่อย", R, True),
    ("मेरा पासवर्ड Yamuna#2291 है, लॉगिन कर दो", R, True),
    ("รหัสไปรษณีย์ของสำนักงานคือ 10110 ใช่ไหม", R, False),
    # a colleague named by surname and job title, with a leave the term list did not have
    ("최 대리 출산휴가 언제부터예요?", C, True),
    ("출산휴가는 며칠까지 쓸 수 있어요?", C, False),
    ("佐藤課長は育休に入りましたか？", C, True),
    ("課長会議の議事録をまとめてください", C, False),
    # a name the small model tags as an adverb, next to sick leave
    ("how many days of sick leave has Olumide taken this year?", C, True),
    ("how many days of sick leave do we get each year?", C, False),
])
def test_when_a_value_comes_in_a_form_found_by_probing_then_found(detector, text, level, sensitive):
    """Gaps found with sentences written for this test (detect-21), not taken from any evaluation set."""
    detection = detector.classify(text)

    assert (detection.level >= level) == sensitive, detection.findings
